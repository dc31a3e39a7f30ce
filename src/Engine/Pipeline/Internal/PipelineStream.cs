using SignalStream.Engine.Features;

namespace SignalStream.Engine.Pipeline.Internal;

/// <summary>One stream as the pipeline keeps it: its features (the reader's) and its place between the two emitters.</summary>
internal sealed class PipelineStream(StreamFeatureState features)
{
    public StreamFeatureState Features { get; set; } = features;

    /// <summary>
    /// The finisher ticket of the stream's last candle handed over with shadow predictions still to come. The stream's
    /// next closed candle is decided only once the finisher is past it, so a candle's shadow signals are open before
    /// the next candle of the stream resolves anything. Touched by the live emitter only.
    /// </summary>
    public long LastShadowTicket { get; set; }
}
