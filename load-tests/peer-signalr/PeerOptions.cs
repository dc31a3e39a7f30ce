using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace SignalStream.PeerSignalR;

/// <summary>The peer's settings, section <c>Peer</c>: where the engine's signals are read and which symbols they carry.</summary>
internal sealed partial class PeerOptions
{
    public const string SectionName = "Peer";

    /// <summary>StackExchange.Redis configuration string (<c>host:port</c>) for both the feed and the backplane.</summary>
    public string Redis { get; set; } = "";

    /// <summary>Signals of a symbol arrive on <c>{ChannelPrefix}:{SYMBOL}</c>, as SignalStream's hub nodes read them.</summary>
    public string ChannelPrefix { get; set; } = "signalstream";

    /// <summary>The symbols fed and served (like SignalStream's <c>Ingest:Symbols</c>).</summary>
    public List<string> Symbols { get; set; } = [];

    private HashSet<string> _served = [];

    /// <summary>Binds and validates the section; throws with every problem and how to fix it.</summary>
    public static PeerOptions Read(IConfiguration configuration)
    {
        var options = configuration.GetSection(SectionName).Get<PeerOptions>() ?? new PeerOptions();
        var problems = options.Validate().ToList();
        if (problems.Count > 0)
        {
            throw new OptionsValidationException(SectionName, typeof(PeerOptions), problems);
        }

        options._served = new HashSet<string>(options.Symbols, StringComparer.Ordinal);
        return options;
    }

    public bool Serves(string symbol) => _served.Contains(symbol);

    private IEnumerable<string> Validate()
    {
        if (string.IsNullOrWhiteSpace(Redis))
        {
            yield return "Peer:Redis is required: the Redis endpoint the engine publishes on (for example --Peer:Redis 127.0.0.1:6379).";
        }

        if (string.IsNullOrWhiteSpace(ChannelPrefix) || ChannelPrefix.Length > 64 || ChannelPrefix.Any(char.IsWhiteSpace))
        {
            yield return $"Peer:ChannelPrefix must be 1 to 64 characters without spaces (SignalStream's Hub:RedisChannelPrefix), not '{ChannelPrefix}'.";
        }

        if (Symbols.Count is 0 or > 5000)
        {
            yield return $"Peer:Symbols needs 1 to 5000 symbols (--Peer:Symbols:0 BTCUSDT --Peer:Symbols:1 ETHUSDT ...), not {Symbols.Count}.";
        }

        foreach (var symbol in Symbols.Where(s => !SymbolPattern().IsMatch(s)))
        {
            yield return $"Peer:Symbols: '{symbol}' is not a symbol (2 to 20 upper-case letters and digits, for example BTCUSDT).";
        }

        foreach (var symbol in Symbols.GroupBy(s => s, StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            yield return $"Peer:Symbols lists '{symbol.Key}' {symbol.Count()} times; list each symbol once.";
        }
    }

    [GeneratedRegex("^[A-Z0-9]{2,20}$")]
    private static partial Regex SymbolPattern();
}
