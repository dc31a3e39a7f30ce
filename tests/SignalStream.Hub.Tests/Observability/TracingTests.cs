using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OpenTelemetry.Trace;
using SignalStream.Hub.Hosting;
using SignalStream.Hub.Tests.EndToEnd;

namespace SignalStream.Hub.Tests.Observability;

/// <summary>
/// OpenTelemetry tracing against a real node and a real OTLP/HTTP endpoint: a closed candle is one trace from ingest to
/// publish, PostgreSQL's commands sit under the store's commits, and with no endpoint configured nothing listens.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class TracingTests
{
    [Fact]
    public async Task ACandleThatSignalsIsOneTraceFromIngestToPublishWithThePostgresCommitUnderTheStore()
    {
        await using var collector = await OtlpTraceReceiver.StartAsync();
        string[] args =
        [
            .. EngineEndToEndTests.EngineRun,
            .. TestPostgres.FreshStoreSettings().Select(setting => "--" + setting),
            $"--Tracing:OtlpEndpoint={collector.Address}",
            "--Tracing:OtlpProtocol=http/protobuf",
            "--Tracing:ServiceName=signalstream-test",
        ];
        await using (var node = await TestServer.StartAsync(args))
        {
            await using var client = await node.ConnectAsync();
            await client.InvokeAsync("Subscribe", new { symbol = "BTCUSDT" });
            await EngineEndToEndTests.ReadUntilAsync(client, (signals, _) => signals.Count >= 1);
            await node.StopAsync(); // the tracer provider flushes what it holds
        }

        var spans = collector.Spans;
        Assert.All(spans, span => Assert.Equal("signalstream-test", span.ServiceName));
        var publish = spans.First(span => span.Name == "publish");
        var trace = spans.Where(span => span.TraceId == publish.TraceId).ToList();
        var candle = Assert.Single(trace, span => span.Name == "candle");
        Assert.Equal("", candle.ParentSpanId.TrimStart('0'));
        foreach (var stage in new[] { "ingest", "features", "inference", "decision" })
        {
            Assert.Equal(candle.SpanId, Assert.Single(trace, span => span.Name == stage).ParentSpanId);
        }

        var decision = trace.Single(span => span.Name == "decision");
        Assert.Contains(trace, span => span.Name == "store" && span.ParentSpanId == decision.SpanId);
        Assert.Equal(decision.SpanId, publish.ParentSpanId);

        var commits = spans.Where(span => span.Name == "store commit").Select(span => span.SpanId).ToHashSet();
        Assert.NotEmpty(commits);
        Assert.Contains(spans, span => commits.Contains(span.ParentSpanId)); // Npgsql's command spans
    }

    [Fact]
    public async Task WithoutAnEndpointNoTracerIsRegisteredSoNoSpanIsMade()
    {
        await using var node = await TestServer.StartAsync();
        Assert.Null(node.Services.GetService<TracerProvider>());
    }

    [Theory]
    [InlineData("Tracing:OtlpEndpoint=collector:4317", "Tracing:OtlpEndpoint")]
    [InlineData("Tracing:OtlpProtocol=udp", "Tracing:OtlpProtocol")]
    [InlineData("Tracing:SampleRatio=1.5", "Tracing:SampleRatio")]
    public void ABadTracingSettingStopsTheNodeNamingIt(string setting, string named)
    {
        var error = Assert.Throws<OptionsValidationException>(() => SignalStreamHost.Build(["--urls", "http://127.0.0.1:0", "--" + setting]));
        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }
}
