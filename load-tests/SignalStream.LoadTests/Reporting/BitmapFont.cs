namespace SignalStream.LoadTests.Reporting;

/// <summary>A 3×5 pixel font for chart labels: digits, upper-case letters and a few signs (lower case is drawn as upper).</summary>
internal static class BitmapFont
{
    // Each glyph: 5 rows of 3 bits (bit 2 = left column).
    private static readonly Dictionary<char, int[]> Glyphs = new()
    {
        ['0'] = [7, 5, 5, 5, 7], ['1'] = [2, 6, 2, 2, 7], ['2'] = [7, 1, 7, 4, 7], ['3'] = [7, 1, 7, 1, 7],
        ['4'] = [5, 5, 7, 1, 1], ['5'] = [7, 4, 7, 1, 7], ['6'] = [7, 4, 7, 5, 7], ['7'] = [7, 1, 1, 1, 1],
        ['8'] = [7, 5, 7, 5, 7], ['9'] = [7, 5, 7, 1, 7], ['A'] = [2, 5, 7, 5, 5], ['B'] = [6, 5, 6, 5, 6],
        ['C'] = [7, 4, 4, 4, 7], ['D'] = [6, 5, 5, 5, 6], ['E'] = [7, 4, 6, 4, 7], ['F'] = [7, 4, 6, 4, 4],
        ['G'] = [7, 4, 5, 5, 7], ['H'] = [5, 5, 7, 5, 5], ['I'] = [7, 2, 2, 2, 7], ['J'] = [1, 1, 1, 5, 7],
        ['K'] = [5, 5, 6, 5, 5], ['L'] = [4, 4, 4, 4, 7], ['M'] = [5, 7, 7, 5, 5], ['N'] = [6, 5, 5, 5, 5],
        ['O'] = [7, 5, 5, 5, 7], ['P'] = [7, 5, 7, 4, 4], ['Q'] = [7, 5, 5, 7, 1], ['R'] = [6, 5, 6, 5, 5],
        ['S'] = [7, 4, 7, 1, 7], ['T'] = [7, 2, 2, 2, 2], ['U'] = [5, 5, 5, 5, 7], ['V'] = [5, 5, 5, 5, 2],
        ['W'] = [5, 5, 7, 7, 5], ['X'] = [5, 5, 2, 5, 5], ['Y'] = [5, 5, 2, 2, 2], ['Z'] = [7, 1, 2, 4, 7],
        ['.'] = [0, 0, 0, 0, 2], [','] = [0, 0, 0, 2, 4], [':'] = [0, 2, 0, 2, 0], ['-'] = [0, 0, 7, 0, 0],
        ['/'] = [1, 1, 2, 4, 4], ['%'] = [5, 1, 2, 4, 5], ['('] = [1, 2, 2, 2, 1], [')'] = [4, 2, 2, 2, 4],
        ['='] = [0, 7, 0, 7, 0], ['>'] = [4, 2, 1, 2, 4], ['<'] = [1, 2, 4, 2, 1], ['_'] = [0, 0, 0, 0, 7],
    };

    public static int Width(string text, int scale) => text.Length * 4 * scale;

    public static void Draw(PngImage image, int x, int y, string text, uint rgb, int scale)
    {
        foreach (var raw in text)
        {
            if (Glyphs.TryGetValue(char.ToUpperInvariant(raw), out var rows))
            {
                for (var row = 0; row < 5; row++)
                {
                    for (var col = 0; col < 3; col++)
                    {
                        if ((rows[row] & (4 >> col)) != 0)
                        {
                            image.Fill(x + (col * scale), y + (row * scale), scale, scale, rgb);
                        }
                    }
                }
            }

            x += 4 * scale;
        }
    }
}
