using System.Diagnostics.Metrics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using SignalStream.Contracts;

namespace SignalStream.Hub.Tests.Infrastructure;

/// <summary>Counts one node's slow-consumer disconnects (<c>signalstream_hub_slow_consumer_disconnects_total</c>).</summary>
internal sealed class SlowConsumerCounter : IDisposable
{
    private readonly MeterListener _listener = new();
    private long _value;

    public SlowConsumerCounter(TestNode node)
    {
        var meters = node.App.Services.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (instrument, l) =>
        {
            // This node's meter only: nodes of tests running in parallel publish the same instrument names.
            if (instrument.Name == "signalstream_hub_slow_consumer_disconnects_total" && ReferenceEquals(instrument.Meter.Scope, meters))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _value, value));
        _listener.Start();
    }

    public long Value => Interlocked.Read(ref _value);

    /// <summary>
    /// Publishes <paramref name="symbol"/> signals with seq 1, 2, … in batches the reading client takes in, until the
    /// node has cut a slow consumer (a non-reader's socket, the kernel's buffers and SignalR's pipe fill first) or
    /// 80,000 signals went out. Returns what the reader received: one per published signal.
    /// </summary>
    public async Task<List<JsonElement>> PublishUntilCutAsync(TestNode node, HubTestClient reader, string symbol)
    {
        const int batch = 8;
        const int maxSignals = 80_000;
        var signals = new List<JsonElement>();
        var count = 0;
        while (Value == 0 && count < maxSignals)
        {
            for (var i = 0; i < batch; i++)
            {
                await node.PublishAsync(TestSignals.Signal(symbol, ++count));
            }

            signals.AddRange(await reader.NextEventsAsync(HubNames.SignalEvent, batch));
        }

        return signals;
    }

    public void Dispose() => _listener.Dispose();
}
