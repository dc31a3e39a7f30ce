using System.ComponentModel;
using System.Globalization;

namespace SignalStream.Ingest;

/// <summary>Where candles come from (<c>Ingest:Source</c>): <c>binance</c> (default), <c>simulated</c> or <c>replay</c>.</summary>
[TypeConverter(typeof(IngestSourceConverter))]
public enum IngestSource
{
    /// <summary>Binance's WebSocket kline streams, with REST backfill.</summary>
    Binance,

    /// <summary>The built-in market simulator (docs/simulator.md).</summary>
    Simulated,

    /// <summary>A recorded file, played once (<c>Ingest:Replay:*</c>).</summary>
    Replay,
}

/// <summary>Lower-case names of <see cref="IngestSource"/>, as configuration, logs and metrics spell them.</summary>
public static class IngestSources
{
    public static string ToName(this IngestSource source) => source switch
    {
        IngestSource.Simulated => "simulated",
        IngestSource.Replay => "replay",
        _ => "binance",
    };
}

/// <summary>
/// Reads <c>Ingest:Source</c> case-insensitively, and refuses anything else with the values to use: the configuration
/// binder reports a bad value with this message inside its own.
/// </summary>
internal sealed class IngestSourceConverter : EnumConverter
{
    public IngestSourceConverter()
        : base(typeof(IngestSource))
    {
    }

    public override object? ConvertFrom(ITypeDescriptorContext? context, CultureInfo? culture, object value) =>
        value is string text && Enum.GetNames<IngestSource>().FirstOrDefault(name => name.Equals(text.Trim(), StringComparison.OrdinalIgnoreCase)) is { } name
            ? Enum.Parse<IngestSource>(name)
            : throw new FormatException($"Ingest:Source is '{value}'; use 'binance', 'simulated' or 'replay'.");
}
