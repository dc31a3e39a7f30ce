using System.CommandLine;
using System.CommandLine.Parsing;

namespace SignalStream.Tools.Internal;

/// <summary>Options whose value is checked as it is parsed, with an error that names the option, the value and the rule.</summary>
internal static class CheckedOption
{
    public delegate bool TryParse<T>(string text, out T value);

    /// <summary>
    /// An option with one value: <paramref name="parse"/> accepts it or the parse fails with
    /// "<c>{name} '{text}' {rule}.</c>" (for example <c>--candles '0' must be a whole number from 1 to 10000000.</c>).
    /// </summary>
    public static Option<T> Create<T>(string name, string helpName, string description, Func<T> defaultValue, TryParse<T> parse, string rule) => new(name)
    {
        HelpName = helpName,
        Description = description,
        DefaultValueFactory = _ => defaultValue(),
        CustomParser = result => Parse(result, name, defaultValue, parse, rule),
    };

    /// <summary>
    /// An option whose value is one of <paramref name="allowed"/> (any case; read it with <see cref="string.ToLowerInvariant"/>),
    /// or the parse fails with "<c>{name} '{text}' {rule}.</c>". Checked by a validator, not a parser, so that a command's
    /// own validator can always read the value.
    /// </summary>
    public static Option<string> OneOf(string name, string description, string? defaultValue, string[] allowed, string rule)
    {
        var option = new Option<string>(name) { HelpName = string.Join('|', allowed), Description = description };
        if (defaultValue is not null)
        {
            option.DefaultValueFactory = _ => defaultValue;
        }

        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string?>() is { } text && !allowed.Contains(text, StringComparer.OrdinalIgnoreCase))
            {
                result.AddError($"{name} '{text}' {rule}.");
            }
        });
        return option;
    }

    /// <summary>Symbols, comma-separated, upper-cased and without repeats: 2–20 ASCII letters or digits each.</summary>
    public static bool TryParseSymbols(string text, out IReadOnlyList<string> symbols)
    {
        symbols = [.. text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s => s.ToUpperInvariant()).Distinct()];
        return symbols.Count > 0 && symbols.All(s => s.Length is >= 2 and <= 20 && s.All(char.IsAsciiLetterOrDigit));
    }

    private static T Parse<T>(ArgumentResult result, string name, Func<T> defaultValue, TryParse<T> parse, string rule)
    {
        if (result.Tokens.Count == 0)
        {
            return defaultValue();
        }

        var text = result.Tokens[^1].Value;
        if (parse(text, out var value))
        {
            return value;
        }

        result.AddError($"{name} '{text}' {rule}.");
        return defaultValue();
    }
}
