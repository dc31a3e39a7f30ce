using SignalStream.Contracts;

namespace SignalStream.Engine;

/// <summary>Calls every registered <see cref="IEngineOutput"/> in registration order.</summary>
/// <remarks>
/// A signal is stamped with <see cref="Signal.PublishedAt"/> here, once, before any output sees it: the store persists
/// before the fan-out sends, so a stamp added by the fan-out would be missing from every stored (resumed) signal.
/// </remarks>
public sealed class EngineOutputs(IEnumerable<IEngineOutput> outputs, TimeProvider? timeProvider = null) : IEngineOutput
{
    private readonly IEngineOutput[] _outputs = outputs.ToArray();
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;

    public async ValueTask OnCandleArrivedAsync(CandleUpdate update, CancellationToken cancellationToken)
    {
        foreach (var output in _outputs)
        {
            await output.OnCandleArrivedAsync(update, cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask OnCandleAsync(CandleUpdate update, CancellationToken cancellationToken)
    {
        foreach (var output in _outputs)
        {
            await output.OnCandleAsync(update, cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask OnSignalAsync(Signal signal, CancellationToken cancellationToken)
    {
        if (signal.PublishedAt == 0)
        {
            signal = signal with { PublishedAt = _time.GetUtcNow().ToUnixTimeMilliseconds() };
        }

        foreach (var output in _outputs)
        {
            await output.OnSignalAsync(signal, cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask OnShadowSignalAsync(Signal signal, CancellationToken cancellationToken)
    {
        foreach (var output in _outputs)
        {
            await output.OnShadowSignalAsync(signal, cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask OnAlertAsync(Events.TradingViewAlertReceived alert, CancellationToken cancellationToken)
    {
        foreach (var output in _outputs)
        {
            await output.OnAlertAsync(alert, cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask OnOutcomeAsync(SignalOutcome outcome, CancellationToken cancellationToken)
    {
        foreach (var output in _outputs)
        {
            await output.OnOutcomeAsync(outcome, cancellationToken).ConfigureAwait(false);
        }
    }
}
