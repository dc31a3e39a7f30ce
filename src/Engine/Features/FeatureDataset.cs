using System.Globalization;
using SignalStream.Contracts;

namespace SignalStream.Engine.Features;

/// <summary>Class labels of the direction models, in the order of their output probabilities.</summary>
public enum DirectionLabel
{
    Down = 0,
    Flat = 1,
    Up = 2,
}

/// <summary>What <see cref="FeatureDataset.Write"/> wrote.</summary>
public sealed record FeatureDatasetSummary(int Streams, long Rows, long Down, long Flat, long Up);

/// <summary>
/// Writes the training set: the engine's own feature rows (the same <see cref="StreamFeatureState"/> that serves)
/// with a direction label from the forward return, so training and serving cannot drift apart.
/// </summary>
/// <remarks>
/// CSV columns: <c>stream, symbol, timeframe, open_time, close</c>, every feature of <see cref="FeatureCatalog"/> in
/// order, <c>fwd_return, band, label</c>. Rows of a stream are contiguous and in time order, starting at its first
/// warm row and ending <c>horizon</c> rows before its last candle (later rows have no future yet). The label is
/// <see cref="Label"/> of the forward log return over <c>horizon</c> candles.
/// </remarks>
public static class FeatureDataset
{
    /// <summary>The default flat band in units of the horizon's expected move (vol_48 · √horizon).</summary>
    /// <remarks>0.43 puts a third of a normal variable inside ±band, so the three classes start near balance.</remarks>
    public const double DefaultFlatBand = 0.43;

    /// <summary>Down below −band, up above +band, flat between (inclusive).</summary>
    public static DirectionLabel Label(double forwardReturn, double band) =>
        forwardReturn > band ? DirectionLabel.Up : forwardReturn < -band ? DirectionLabel.Down : DirectionLabel.Flat;

    /// <summary>The flat band for a row: <paramref name="flatBand"/> × vol_48 × √horizon.</summary>
    public static double Band(double flatBand, double vol48, int horizon) => flatBand * vol48 * Math.Sqrt(horizon);

    /// <summary>Computes features for every stream in <paramref name="candles"/> (closed, in order per stream) and writes the labelled rows.</summary>
    public static FeatureDatasetSummary Write(IEnumerable<Candle> candles, int horizon, double flatBand, TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(candles);
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentOutOfRangeException.ThrowIfLessThan(horizon, 1);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(flatBand);

        var streams = new Dictionary<StreamKey, (StreamFeatureState State, List<(long OpenTime, double Close, float[] Row)> Rows)>();
        foreach (var candle in candles)
        {
            if (!streams.TryGetValue(candle.Stream, out var stream))
            {
                stream = (new StreamFeatureState(1), []);
                streams.Add(candle.Stream, stream);
            }

            stream.State.Update(candle);
            if (stream.State.IsWarm)
            {
                var row = new float[FeatureCatalog.Count];
                for (var i = 0; i < row.Length; i++)
                {
                    row[i] = (float)stream.State.LatestRow[i];
                }

                stream.Rows.Add((candle.OpenTime, (double)candle.Close, row));
            }
        }

        var inv = CultureInfo.InvariantCulture;
        writer.Write("stream,symbol,timeframe,open_time,close");
        foreach (var name in FeatureCatalog.Names)
        {
            writer.Write(',');
            writer.Write(name);
        }

        writer.Write(",fwd_return,band,label\n");
        long rows = 0, down = 0, flat = 0, up = 0;
        var streamIndex = 0;
        foreach (var (key, stream) in streams.OrderBy(s => s.Key.Symbol, StringComparer.Ordinal).ThenBy(s => s.Key.Timeframe))
        {
            var list = stream.Rows;
            for (var i = 0; i + horizon < list.Count; i++)
            {
                var (openTime, close, row) = list[i];
                var forward = Math.Log(list[i + horizon].Close / close);
                var band = Band(flatBand, row[FeatureCatalog.Vol48], horizon);
                var label = Label(forward, band);
                writer.Write(string.Create(inv, $"{streamIndex},{key.Symbol},{key.Timeframe.ToName()},{openTime},{close}"));
                foreach (var value in row)
                {
                    writer.Write(',');
                    writer.Write(value.ToString("R", inv));
                }

                writer.Write(string.Create(inv, $",{forward:R},{band:R},{(int)label}\n"));
                rows++;
                switch (label)
                {
                    case DirectionLabel.Down: down++; break;
                    case DirectionLabel.Flat: flat++; break;
                    default: up++; break;
                }
            }

            streamIndex++;
        }

        return new FeatureDatasetSummary(streams.Count, rows, down, flat, up);
    }
}
