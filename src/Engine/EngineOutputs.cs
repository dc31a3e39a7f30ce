using System.Diagnostics;
using SignalStream.Contracts;
using SignalStream.Engine.Tracing;

namespace SignalStream.Engine;

/// <summary>
/// The engine's one way out, and the one place that orders storing before publishing: every result goes to the
/// durable output (the event writer) first; signals and outcomes reach the publishing outputs
/// (<see cref="IEngineOutput"/>: the fan-out to clients and Redis, and any other publisher) only once their group commit
/// is acknowledged, so a seq a client has seen is durable. Candles are published as they come (they carry no seq, and a
/// lost one comes back from the exchange after a restart).
/// </summary>
/// <remarks>
/// A signal is stamped with <see cref="Signal.PublishedAt"/> here, once, before the store sees it: the stored copy and the
/// published one are the same record. The composition root builds this with its outputs in their order (the node: the
/// event writer, then the fan-out; docs/architecture.md); publishers are called in the order given. Without a durable
/// output (engine tests, tools that store nothing) results are published at once.
/// </remarks>
public sealed class EngineOutputs : IEngineOutput
{
    private readonly IEngineOutput[] _outputs;
    private readonly IDurableEngineOutput? _store;
    private readonly Publishers _publish;
    private readonly TimeProvider _time;

    /// <param name="store">Where every result is made durable first, or null to publish at once.</param>
    /// <param name="publishers">The publishing outputs, called in this order (signals and outcomes after their commit).</param>
    /// <param name="timeProvider">The clock that stamps <see cref="Signal.PublishedAt"/>.</param>
    public EngineOutputs(IDurableEngineOutput? store, IReadOnlyList<IEngineOutput> publishers, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(publishers);
        _outputs = [.. publishers];
        _store = store;
        _publish = new Publishers(_outputs);
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>The durable output, if any (for the composition's tests).</summary>
    internal IDurableEngineOutput? DurableOutput => _store;

    /// <summary>The publishers, in call order (for the composition's tests).</summary>
    internal IReadOnlyList<IEngineOutput> PublishOrder => _outputs;

    public async ValueTask OnCandleArrivedAsync(CandleUpdate update, CancellationToken cancellationToken)
    {
        foreach (var output in _outputs)
        {
            await output.OnCandleArrivedAsync(update, cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask OnCandleAsync(CandleUpdate update, CancellationToken cancellationToken)
    {
        if (_store is not null)
        {
            await _store.OnCandleAsync(update, cancellationToken).ConfigureAwait(false);
        }

        foreach (var output in _outputs)
        {
            await output.OnCandleAsync(update, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Stamps the signal and queues it for its commit; it is published after the commit, not before this returns.</summary>
    public ValueTask OnSignalAsync(Signal signal, CancellationToken cancellationToken)
    {
        if (signal.PublishedAt == 0)
        {
            signal = signal with { PublishedAt = _time.GetUtcNow().ToUnixTimeMilliseconds() };
        }

        IEngineOutput publish = Activity.Current is { Source: var source } decision && source == SignalStreamTracing.Source
            ? new TracedPublish(_publish, decision.Context, _store is not null)
            : _publish;
        return _store is null
            ? publish.OnSignalAsync(signal, cancellationToken)
            : _store.OnSignalAsync(signal, publish, cancellationToken);
    }

    public async ValueTask OnShadowSignalAsync(Signal signal, CancellationToken cancellationToken)
    {
        if (_store is not null)
        {
            await _store.OnShadowSignalAsync(signal, cancellationToken).ConfigureAwait(false);
        }

        foreach (var output in _outputs)
        {
            await output.OnShadowSignalAsync(signal, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Queues the outcome for its commit; like a signal, it is published after the commit.</summary>
    public ValueTask OnOutcomeAsync(SignalOutcome outcome, CancellationToken cancellationToken) =>
        _store is null
            ? _publish.OnOutcomeAsync(outcome, cancellationToken)
            : _store.OnOutcomeAsync(outcome, _publish, cancellationToken);

    public ValueTask OnAlertAsync(Events.TradingViewAlertReceived alert, CancellationToken cancellationToken) =>
        OnAlertAsync(alert, committed: null, cancellationToken);

    /// <summary>
    /// Queues a TradingView alert for its commit; like a signal, it reaches the publishers after the commit, and
    /// <paramref name="committed"/> completes then (the webhook answers 202 once it has).
    /// </summary>
    public ValueTask OnAlertAsync(Events.TradingViewAlertReceived alert, TaskCompletionSource? committed, CancellationToken cancellationToken)
    {
        IEngineOutput to = committed is null ? _publish : new CommitNotice(_publish, committed);
        return _store is null ? to.OnAlertAsync(alert, cancellationToken) : _store.OnAlertAsync(alert, to, cancellationToken);
    }

    /// <summary>What the durable output calls after a commit: every publisher, in order.</summary>
    private sealed class Publishers(IEngineOutput[] outputs) : IEngineOutput
    {
        public async ValueTask OnAlertAsync(Events.TradingViewAlertReceived alert, CancellationToken cancellationToken)
        {
            foreach (var output in outputs)
            {
                await output.OnAlertAsync(alert, cancellationToken).ConfigureAwait(false);
            }
        }

        public ValueTask OnCandleAsync(CandleUpdate update, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public async ValueTask OnSignalAsync(Signal signal, CancellationToken cancellationToken)
        {
            foreach (var output in outputs)
            {
                await output.OnSignalAsync(signal, cancellationToken).ConfigureAwait(false);
            }
        }

        public ValueTask OnShadowSignalAsync(Signal signal, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public async ValueTask OnOutcomeAsync(SignalOutcome outcome, CancellationToken cancellationToken)
        {
            foreach (var output in outputs)
            {
                await output.OnOutcomeAsync(outcome, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// A traced signal on its way out: a <c>store</c> span from its queueing to the acknowledgement of its commit, then a
    /// <c>publish</c> span around the publishers.
    /// </summary>
    private sealed class TracedPublish : IEngineOutput
    {
        private readonly IEngineOutput _publishers;
        private readonly ActivityContext _parent;
        private readonly Activity? _store;

        public TracedPublish(IEngineOutput publishers, ActivityContext parent, bool stored)
        {
            _publishers = publishers;
            _parent = parent;
            _store = stored ? SignalStreamTracing.StartDetached("store", parent) : null;
        }

        public ValueTask OnCandleAsync(CandleUpdate update, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask OnShadowSignalAsync(Signal signal, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask OnOutcomeAsync(SignalOutcome outcome, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public async ValueTask OnSignalAsync(Signal signal, CancellationToken cancellationToken)
        {
            SignalStreamTracing.StopDetached(_store?.SetTag("signalstream.seq", signal.Seq));
            var publish = SignalStreamTracing.StartDetached("publish", _parent);
            publish?.SetTag("signalstream.symbol", signal.Symbol);
            publish?.SetTag("signalstream.seq", signal.Seq);
            try
            {
                await _publishers.OnSignalAsync(signal, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                SignalStreamTracing.StopDetached(publish);
            }
        }
    }

    /// <summary>Publishes a committed alert, then says it was committed (whatever a publisher did with it).</summary>
    private sealed class CommitNotice(IEngineOutput publishers, TaskCompletionSource committed) : IEngineOutput
    {
        public ValueTask OnCandleAsync(CandleUpdate update, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask OnSignalAsync(Signal signal, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask OnShadowSignalAsync(Signal signal, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask OnOutcomeAsync(SignalOutcome outcome, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public async ValueTask OnAlertAsync(Events.TradingViewAlertReceived alert, CancellationToken cancellationToken)
        {
            try
            {
                await publishers.OnAlertAsync(alert, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                committed.TrySetResult();
            }
        }
    }
}
