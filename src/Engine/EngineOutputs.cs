using SignalStream.Contracts;

namespace SignalStream.Engine;

/// <summary>Calls every registered <see cref="IEngineOutput"/> in registration order.</summary>
public sealed class EngineOutputs(IEnumerable<IEngineOutput> outputs) : IEngineOutput
{
    private readonly IEngineOutput[] _outputs = outputs.ToArray();

    public async ValueTask OnCandleAsync(CandleUpdate update, CancellationToken cancellationToken)
    {
        foreach (var output in _outputs)
        {
            await output.OnCandleAsync(update, cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask OnSignalAsync(Signal signal, CancellationToken cancellationToken)
    {
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

    public async ValueTask OnOutcomeAsync(SignalOutcome outcome, CancellationToken cancellationToken)
    {
        foreach (var output in _outputs)
        {
            await output.OnOutcomeAsync(outcome, cancellationToken).ConfigureAwait(false);
        }
    }
}
