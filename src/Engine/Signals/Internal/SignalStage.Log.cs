using Microsoft.Extensions.Logging;
using SignalStream.Contracts;

namespace SignalStream.Engine.Signals.Internal;

internal sealed partial class SignalStage
{
    /// <summary>Signals/Journal event ids 3000-3099.</summary>
    private static partial class Log
    {
        [LoggerMessage(3000, LogLevel.Information, "Signal seq of {Symbol} continues after {LastSeq}")]
        public static partial void SequenceLoaded(ILogger logger, string symbol, long lastSeq);

        [LoggerMessage(3001, LogLevel.Debug,
            "Signal {SignalId} seq {Seq}: {Direction} confidence {Confidence} fusion {FusionScore}, entry {Entry} target {Target} stop {Stop}")]
        public static partial void SignalPublished(
            ILogger logger, string signalId, long seq, SignalDirection direction, double confidence, double fusionScore, decimal entry, decimal target, decimal stop);

        [LoggerMessage(3002, LogLevel.Debug, "Shadow signal {SignalId} of {Model}: {Direction} confidence {Confidence}")]
        public static partial void ShadowSignal(ILogger logger, string signalId, string model, SignalDirection direction, double confidence);

        [LoggerMessage(3003, LogLevel.Trace, "No signal for {Symbol}@{Timeframe} candle {OpenTime}: {Reason}")]
        public static partial void NoSignal(ILogger logger, string symbol, string timeframe, long openTime, DecisionResult reason);

        [LoggerMessage(3004, LogLevel.Debug, "Signal {SignalId} (shadow: {IsShadow}) resolved {Outcome} at {RMultiple}R: {Reason}")]
        public static partial void OutcomeResolved(ILogger logger, string signalId, bool isShadow, OutcomeKind outcome, double rMultiple, string reason);

        [LoggerMessage(3006, LogLevel.Information, "Signal state restored from the event store: {OpenSignals} signals open ({OpenLiveSignals} published, the rest shadow)")]
        public static partial void Restored(ILogger logger, int openSignals, int openLiveSignals);

        [LoggerMessage(3007, LogLevel.Information, "Alert {AlertId} of {Source} accepted: {Action} {Symbol}@{Timeframe} at {Price}")]
        public static partial void AlertAccepted(ILogger logger, string source, Guid alertId, string action, string symbol, string timeframe, decimal price);

        [LoggerMessage(3005, LogLevel.Warning,
            "Model {Model} gave an unusable prediction on {Stream}: {Problem}. It is left out of decisions until it predicts sensibly; check its export (P(down), P(flat), P(up) finite, 0 or more, summing to 1) and its manifest weight. Logged once per model.")]
        public static partial void InvalidPrediction(ILogger logger, string model, string stream, string problem);

        [LoggerMessage(3008, LogLevel.Error,
            "Shadow predictions of {Stream} candle {OpenTime} dropped: {Problem}. The engine hands a candle's shadow predictions over only after its live decision; this is a bug in that hand-over.")]
        public static partial void ShadowPredictionsDropped(ILogger logger, string stream, long openTime, string problem);
    }
}
