using SignalStream.Contracts;
using SignalStream.Engine.Features;
using SignalStream.Engine.Inference.Internal;

namespace SignalStream.Engine.Pipeline.Internal;

/// <summary>One stream as the pipeline keeps it: its features (the reader's), its recurrent models' chains, and its place between the two emitters.</summary>
internal sealed class PipelineStream(StreamKey key, StreamFeatureState features)
{
    private (LoadedModel Model, StreamChain Chain)[] _chains = [];

    public StreamKey Key { get; } = key;

    public StreamFeatureState Features { get; set; } = features;

    /// <summary>
    /// The finisher ticket of the stream's last candle handed over with shadow predictions still to come. The stream's
    /// next closed candle is decided only once the finisher is past it, so a candle's shadow signals are open before
    /// the next candle of the stream resolves anything. Touched by the live emitter only.
    /// </summary>
    public long LastShadowTicket { get; set; }

    /// <summary>Whether the stream waits in the <see cref="ChainPrimer"/>'s list (the reader's).</summary>
    public bool PrimePending { get; set; }

    /// <summary>
    /// The stream's chains in the recurrent model <paramref name="model"/>, created on its first row; a model version
    /// no longer in <paramref name="set"/> (a reload retired it) loses its chains then. The reader's.
    /// </summary>
    public StreamChain ChainFor(LoadedModel model, ModelSet set)
    {
        foreach (var (m, chain) in _chains)
        {
            if (ReferenceEquals(m, model))
            {
                return chain;
            }
        }

        var created = new StreamChain(model.Recurrence!.StateWidth);
        _chains = [.. _chains.Where(c => set.Models.Contains(c.Model)), (model, created)];
        return created;
    }
}
