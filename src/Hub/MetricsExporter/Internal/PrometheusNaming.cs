using System.Diagnostics.Metrics;
using System.Text;

namespace SignalStream.Hub.MetricsExporter.Internal;

/// <summary>
/// Maps instrument names, units and tag keys to Prometheus names, following the OpenTelemetry → Prometheus
/// conventions: '.' and other illegal characters become '_', the unit becomes a suffix in base units
/// (<c>s</c> → <c>_seconds</c>, <c>By</c> → <c>_bytes</c>), counters end in <c>_total</c>.
/// </summary>
internal static class PrometheusNaming
{
    /// <summary>Meters whose instruments already carry their final Prometheus name (DESIGN.md section 4).</summary>
    public const string OwnMeterPrefix = "SignalStream.";

    public static bool IsValidMetricName(ReadOnlySpan<char> name)
    {
        if (name.IsEmpty)
        {
            return false;
        }

        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            var ok = c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or '_' or ':' || (i > 0 && c is >= '0' and <= '9');
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    public static bool IsValidLabelName(ReadOnlySpan<char> name)
    {
        if (name.IsEmpty || name.StartsWith("__", StringComparison.Ordinal))
        {
            return false;
        }

        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            var ok = c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or '_' || (i > 0 && c is >= '0' and <= '9');
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The Prometheus family name for an instrument, and the factor that converts its values to base units.</summary>
    public static (string Name, double Scale) MetricName(Instrument instrument, MetricKind kind)
    {
        if (instrument.Meter.Name.StartsWith(OwnMeterPrefix, StringComparison.Ordinal) && IsValidMetricName(instrument.Name))
        {
            // Our own instruments are named for Prometheus already; rewriting them would break the contract.
            return (instrument.Name, 1.0);
        }

        var (suffix, scale) = UnitSuffix(instrument.Unit, kind);
        var name = Sanitize(instrument.Name, allowColon: true);
        if (suffix.Length > 0 && !name.EndsWith("_" + suffix, StringComparison.Ordinal))
        {
            name = name + "_" + suffix;
        }

        if (kind == MetricKind.Counter && !name.EndsWith("_total", StringComparison.Ordinal))
        {
            name += "_total";
        }
        else if (kind == MetricKind.Gauge
                 && (name.EndsWith("_count", StringComparison.Ordinal) || name.EndsWith("_sum", StringComparison.Ordinal)
                     || name.EndsWith("_bucket", StringComparison.Ordinal)))
        {
            // Those suffixes mean a histogram's series to Prometheus (promtool rejects them on a gauge):
            // dotnet.assembly.count becomes dotnet_assembly_count_value.
            name += "_value";
        }

        return (name, scale);
    }

    /// <summary>A legal label name for a tag key; keys starting with <c>__</c> are reserved by Prometheus and get a prefix.</summary>
    public static string LabelName(string key)
    {
        var name = Sanitize(key, allowColon: false);
        return name.StartsWith("__", StringComparison.Ordinal) ? "tag" + name : name;
    }

    /// <summary>Replaces every character Prometheus does not allow with '_' and collapses runs of '_'.</summary>
    public static string Sanitize(string value, bool allowColon)
    {
        if (string.IsNullOrEmpty(value))
        {
            return "_";
        }

        var builder = new StringBuilder(value.Length + 1);
        if (value[0] is >= '0' and <= '9')
        {
            builder.Append('_');
        }

        foreach (var c in value)
        {
            var ok = c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_' || (allowColon && c == ':');
            var mapped = ok ? c : '_';
            if (mapped == '_' && builder.Length > 0 && builder[^1] == '_')
            {
                continue;
            }

            builder.Append(mapped);
        }

        return builder.ToString();
    }

    /// <summary>
    /// UCUM unit → Prometheus suffix. Non-base time units are converted to seconds (promtool's lint rejects
    /// <c>_milliseconds</c>); annotations in braces (<c>{request}</c>) carry no suffix.
    /// </summary>
    public static (string Suffix, double Scale) UnitSuffix(string? unit, MetricKind kind) => unit switch
    {
        null or "" => ("", 1.0),
        "s" => ("seconds", 1.0),
        "ms" => ("seconds", 1e-3),
        "us" or "μs" => ("seconds", 1e-6),
        "ns" => ("seconds", 1e-9),
        "min" => ("seconds", 60.0),
        "h" => ("seconds", 3600.0),
        "By" => ("bytes", 1.0),
        "KiBy" => ("bytes", 1024.0),
        "MiBy" => ("bytes", 1024.0 * 1024.0),
        "%" => ("percent", 1.0),
        "1" => (kind == MetricKind.Gauge ? "ratio" : "", 1.0),
        _ when unit[0] == '{' => ("", 1.0),
        _ => (Sanitize(unit.Replace("/", "_per_", StringComparison.Ordinal), allowColon: false).Trim('_').ToLowerInvariant(), 1.0),
    };
}
