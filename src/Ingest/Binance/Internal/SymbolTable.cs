using System.Diagnostics.CodeAnalysis;
using SignalStream.Contracts;

namespace SignalStream.Ingest.Binance.Internal;

/// <summary>One configured symbol: its interned name and the tracker of each of its configured timeframes.</summary>
internal sealed class SymbolEntry(string symbol)
{
    public string Symbol { get; } = symbol;

    /// <summary>Indexed by <see cref="Timeframe"/>; null where the timeframe is not configured.</summary>
    public StreamTracker?[] Trackers { get; } = new StreamTracker?[Timeframes.All.Count];
}

/// <summary>
/// An immutable lookup from a symbol's UTF-8 bytes (as they arrive in a frame) to its <see cref="SymbolEntry"/>,
/// without allocating: the bytes are widened into a stack buffer and looked up through the dictionary's
/// <see cref="ReadOnlySpan{T}"/> alternate lookup. Replaced as a whole when the configured streams change.
/// </summary>
internal sealed class SymbolTable
{
    // Binance symbols are short upper-case ASCII (the longest listed are ~20 characters).
    private const int MaxSymbolLength = 32;

    private readonly Dictionary<string, SymbolEntry> _entries;
    private readonly Dictionary<string, SymbolEntry>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    public SymbolTable(IEnumerable<StreamTracker> trackers)
    {
        _entries = new Dictionary<string, SymbolEntry>(StringComparer.Ordinal);
        foreach (var tracker in trackers)
        {
            if (!_entries.TryGetValue(tracker.Key.Symbol, out var entry))
            {
                entry = new SymbolEntry(tracker.Key.Symbol);
                _entries.Add(entry.Symbol, entry);
            }

            entry.Trackers[(int)tracker.Key.Timeframe] = tracker;
        }

        _lookup = _entries.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public int Count => _entries.Count;

    public bool TryGet(ReadOnlySpan<byte> utf8Symbol, [NotNullWhen(true)] out SymbolEntry? entry)
    {
        if (utf8Symbol.Length is 0 or > MaxSymbolLength)
        {
            entry = null;
            return false;
        }

        Span<char> chars = stackalloc char[MaxSymbolLength];
        for (var i = 0; i < utf8Symbol.Length; i++)
        {
            var b = utf8Symbol[i];
            if (b >= 0x80)
            {
                entry = null;
                return false;
            }

            chars[i] = (char)b;
        }

        return _lookup.TryGetValue(chars[..utf8Symbol.Length], out entry);
    }

    public bool TryGet(string symbol, [NotNullWhen(true)] out SymbolEntry? entry) => _entries.TryGetValue(symbol, out entry);
}
