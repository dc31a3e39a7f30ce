using System.Buffers;
using System.Buffers.Text;
using System.Globalization;

namespace SignalStream.Hub.MetricsExporter.Internal;

/// <summary>
/// Writes the text exposition format (version 0.0.4) into a buffer rented from <see cref="ArrayPool{T}"/>:
/// the pre-encoded names and label sets are copied, numbers are formatted straight to UTF-8.
/// </summary>
internal sealed class PrometheusTextWriter : IDisposable
{
    private byte[] _buffer;
    private int _written;

    public PrometheusTextWriter(int initialCapacity = 64 * 1024)
    {
        _buffer = ArrayPool<byte>.Shared.Rent(initialCapacity);
    }

    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, _written);

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _written);

    public void Reset() => _written = 0;

    public void Dispose()
    {
        var buffer = _buffer;
        _buffer = [];
        _written = 0;
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public void WriteFamily(MetricFamily family, long generation)
    {
        Write(family.Header);
        var series = family.OrderedSeries;
        foreach (var s in series)
        {
            if (family.Observable && s.Generation != generation)
            {
                // The callback stopped reporting this tag set: the series is gone, as Prometheus expects.
                continue;
            }

            if (family.Kind == MetricKind.Histogram)
            {
                WriteHistogram(family, s);
            }
            else
            {
                WriteSample(family.NameUtf8, ""u8, s.LabelBody, s.Value);
            }
        }
    }

    /// <summary>A sample line: <c>name{labels} value</c>.</summary>
    public void WriteSample(ReadOnlySpan<byte> name, ReadOnlySpan<byte> suffix, ReadOnlySpan<byte> labels, double value)
    {
        Write(name);
        Write(suffix);
        if (!labels.IsEmpty)
        {
            Write("{"u8);
            Write(labels);
            Write("}"u8);
        }

        Write(" "u8);
        WriteDouble(value);
        Write("\n"u8);
    }

    private void WriteHistogram(MetricFamily family, Series s)
    {
        long cumulative = 0;
        var labels = family.BucketLabels;
        for (var i = 0; i < labels.Length; i++)
        {
            cumulative += s.BucketCount(i);
            Write(family.NameUtf8);
            Write("_bucket{"u8);
            if (s.LabelBody.Length > 0)
            {
                Write(s.LabelBody);
                Write(","u8);
            }

            Write(labels[i]);
            Write("} "u8);
            WriteLong(cumulative);
            Write("\n"u8);
        }

        // _count is the +Inf bucket, so the two always agree even while measurements arrive during the render.
        WriteSample(family.NameUtf8, "_sum"u8, s.LabelBody, s.Sum);
        Write(family.NameUtf8);
        Write("_count"u8);
        if (s.LabelBody.Length > 0)
        {
            Write("{"u8);
            Write(s.LabelBody);
            Write("}"u8);
        }

        Write(" "u8);
        WriteLong(cumulative);
        Write("\n"u8);
    }

    public void Write(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_written));
        _written += bytes.Length;
    }

    public void WriteLong(long value)
    {
        Ensure(20);
        Utf8Formatter.TryFormat(value, _buffer.AsSpan(_written), out var written);
        _written += written;
    }

    public void WriteDouble(double value)
    {
        if (double.IsPositiveInfinity(value))
        {
            Write("+Inf"u8);
        }
        else if (double.IsNegativeInfinity(value))
        {
            Write("-Inf"u8);
        }
        else if (double.IsNaN(value))
        {
            Write("NaN"u8);
        }
        else
        {
            Ensure(32);
            // Shortest round-trip form ("0.0005", "1E-06"): Go's ParseFloat, which Prometheus uses, reads both.
            value.TryFormat(_buffer.AsSpan(_written), out var written, default, CultureInfo.InvariantCulture);
            _written += written;
        }
    }

    /// <summary>The same text <see cref="WriteDouble"/> produces, for pre-encoding bucket bounds.</summary>
    public static string FormatDouble(double value) =>
        double.IsPositiveInfinity(value) ? "+Inf"
        : double.IsNegativeInfinity(value) ? "-Inf"
        : double.IsNaN(value) ? "NaN"
        : value.ToString(CultureInfo.InvariantCulture);

    private void Ensure(int size)
    {
        if (_buffer.Length - _written >= size)
        {
            return;
        }

        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _written + size));
        _buffer.AsSpan(0, _written).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
    }
}
