using System.Diagnostics.Metrics;
using FsCheck;
using FsCheck.Fluent;
using SignalStream.Hub.MetricsExporter.Internal;
using SignalStream.Hub.Tests.Observability;

namespace SignalStream.Hub.Tests.MetricsExporter;

public sealed class PrometheusExporterTests
{
    [Fact]
    public void CounterIsWrittenUnderItsContractNameWithItsTagsAsLabels()
    {
        using var harness = new CollectorHarness();
        var counter = harness.Meter.CreateCounter<long>("signalstream_ingest_messages_total", description: "Frames received.");
        counter.Add(3, new KeyValuePair<string, object?>("exchange", "binance"));
        counter.Add(4, new KeyValuePair<string, object?>("exchange", "binance"));

        var text = harness.ScrapeText();
        var family = ExpositionParser.Parse(text)["signalstream_ingest_messages_total"];

        Assert.Equal("counter", family.Type);
        Assert.Equal("Frames received.", family.Help);
        var sample = Assert.Single(family.Samples);
        Assert.Equal("binance", sample.Label("exchange"));
        Assert.Equal(7, sample.Value);
        Assert.Contains("signalstream_ingest_messages_total{exchange=\"binance\"} 7\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void UpDownCounterIsAGaugeThatGoesDown()
    {
        using var harness = new CollectorHarness();
        var connections = harness.Meter.CreateUpDownCounter<long>("signalstream_hub_connections");
        connections.Add(5);
        connections.Add(-2);

        var family = harness.Scrape()["signalstream_hub_connections"];

        Assert.Equal("gauge", family.Type);
        Assert.Equal(3, Assert.Single(family.Samples).Value);
    }

    [Fact]
    public void HistogramBucketsAreCumulativeAndAgreeWithCountAndSum()
    {
        var values = Gen.Choose(0, 3_000_000).Select(v => v / 1_000_000.0).ArrayOf();
        Prop.ForAll(values.ToArbitrary(), recorded =>
        {
            using var harness = new CollectorHarness();
            var histogram = harness.Meter.CreateHistogram<double>("signalstream_pipeline_latency_seconds");
            foreach (var value in recorded)
            {
                histogram.Record(value);
            }

            var family = harness.Scrape()["signalstream_pipeline_latency_seconds"];
            if (recorded.Length == 0)
            {
                Assert.Empty(family.Samples);
                return;
            }

            foreach (var bucket in family.Samples.Where(s => s.Name.EndsWith("_bucket", StringComparison.Ordinal)))
            {
                var bound = ExpositionParser.ParseValue(bucket.Label("le"));
                Assert.Equal(recorded.Count(v => v <= bound), bucket.Value);
            }

            Assert.Equal(recorded.Length, family.Samples.Single(s => s.Name.EndsWith("_count", StringComparison.Ordinal)).Value);
            Assert.Equal(recorded.Sum(), family.Samples.Single(s => s.Name.EndsWith("_sum", StringComparison.Ordinal)).Value, 9);
        }).QuickCheckThrowOnFailure();
    }

    [Theory]
    [InlineData("signalstream_pipeline_latency_seconds", "0.0005", "10")]
    [InlineData("signalstream_inference_duration_seconds", "1E-06", "0.1")]
    [InlineData("signalstream_inference_batch_size", "1", "2048")]
    [InlineData("signalstream_persistence_lag_seconds", "0.001", "120")]
    public void EachQuantityGetsBucketsForItsRange(string name, string firstBound, string lastBound)
    {
        using var harness = new CollectorHarness();
        harness.Meter.CreateHistogram<double>(name).Record(1);

        var bounds = harness.Scrape()[name].Samples
            .Where(s => s.Name == name + "_bucket")
            .Select(s => s.Label("le"))
            .ToList();

        Assert.Equal(firstBound, bounds[0]);
        Assert.Equal(lastBound, bounds[^2]);
        Assert.Equal("+Inf", bounds[^1]);
    }

    [Fact]
    public void InstrumentAdviceSetsTheBucketsOfAnInstrumentTheTableDoesNotKnow()
    {
        using var harness = new CollectorHarness();
        harness.Meter.CreateHistogram<double>("signalstream_test_wait_seconds", unit: "s", description: null,
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.25, 0.5, 4] }).Record(1);

        var bounds = harness.Scrape()["signalstream_test_wait_seconds"].Samples
            .Where(s => s.Name.EndsWith("_bucket", StringComparison.Ordinal))
            .Select(s => s.Label("le"));

        Assert.Equal(["0.25", "0.5", "4", "+Inf"], bounds);
    }

    [Fact]
    public void ConfiguredBucketsOverrideTheTable()
    {
        using var harness = new CollectorHarness(o => o.Buckets["signalstream_inference_batch_size"] = [10, 100]);
        harness.Meter.CreateHistogram<int>("signalstream_inference_batch_size").Record(50);

        var buckets = harness.Scrape()["signalstream_inference_batch_size"].Samples
            .Where(s => s.Name.EndsWith("_bucket", StringComparison.Ordinal))
            .Select(s => (s.Label("le"), s.Value));

        Assert.Equal([("10", 0.0), ("100", 1.0), ("+Inf", 1.0)], buckets);
    }

    [Fact]
    public void OtherMetersAreNamedByPrometheusConventionsWithBaseUnits()
    {
        using var harness = new CollectorHarness(o => o.AdditionalMeters.Add("Test.Foreign"));
        using var meter = harness.MeterFactory.Create("Test.Foreign");
        meter.CreateCounter<long>("test.requests", unit: "{request}").Add(2, new KeyValuePair<string, object?>("http.route", "/a"));
        meter.CreateHistogram<double>("test.wait", unit: "ms").Record(250);
        meter.CreateUpDownCounter<long>("test.buffer.size", unit: "By").Add(10);
        meter.CreateObservableUpDownCounter("test.item.count", () => 4);

        var families = harness.Scrape();

        var requests = Assert.Single(families["test_requests_total"].Samples);
        Assert.Equal("/a", requests.Label("http_route"));
        Assert.Equal("counter", families["test_requests_total"].Type);
        Assert.Equal(0.25, families["test_wait_seconds"].Samples.Single(s => s.Name == "test_wait_seconds_sum").Value, 9);
        Assert.Equal("gauge", families["test_buffer_size_bytes"].Type);
        Assert.Equal(4, Assert.Single(families["test_item_count_value"].Samples).Value);
    }

    [Fact]
    public void LabelValuesAreEscapedAndReadBackUnchanged()
    {
        Prop.ForAll(ArbMap.Default.ArbFor<NonNull<string>>(), value =>
        {
            using var harness = new CollectorHarness();
            harness.Meter.CreateCounter<long>("signalstream_test_total").Add(1, new KeyValuePair<string, object?>("value", value.Get));

            var sample = Assert.Single(harness.Scrape()["signalstream_test_total"].Samples);

            Assert.Equal(value.Get.Replace("\r", "\r", StringComparison.Ordinal), sample.Label("value"));
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void OutputDoesNotDependOnTheOrderTagSetsFirstAppeared()
    {
        string Render(IEnumerable<(string Symbol, string Timeframe)> order)
        {
            using var harness = new CollectorHarness();
            var signals = harness.Meter.CreateCounter<long>("signalstream_signals_total");
            harness.Meter.CreateCounter<long>("signalstream_candles_closed_total").Add(1, new KeyValuePair<string, object?>("exchange", "binance"));
            foreach (var (direction, timeframe) in order)
            {
                // Tag order within the measurement varies too.
                signals.Add(1, new("direction", direction), new("timeframe", timeframe));
                signals.Add(1, new("timeframe", timeframe), new("direction", direction));
            }

            var lines = harness.ScrapeText().Split('\n').Where(l => l.Contains("signalstream_signals_total", StringComparison.Ordinal) || l.Contains("signalstream_candles_closed_total", StringComparison.Ordinal));
            return string.Join('\n', lines) + "\n";
        }

        (string, string)[] tagSets = [("long", "1m"), ("short", "1h"), ("long", "15m"), ("short", "1m")];
        var forward = Render(tagSets);
        var backward = Render(tagSets.Reverse());

        Assert.Equal(forward, backward);
        Assert.Contains("signalstream_signals_total{direction=\"long\",timeframe=\"15m\"} 2\nsignalstream_signals_total{direction=\"long\",timeframe=\"1m\"} 2\n", forward, StringComparison.Ordinal);
        Assert.True(forward.IndexOf("signalstream_candles_closed_total", StringComparison.Ordinal) < forward.IndexOf("signalstream_signals_total", StringComparison.Ordinal));
    }

    [Fact]
    public void ScrapingTwiceWithoutNewMeasurementsGivesTheSameText()
    {
        using var harness = new CollectorHarness();
        using var meter = ContractMetrics.Emit(harness.MeterFactory);

        static string Ours(string text) =>
            string.Join('\n', text.Split('\n').Where(l => l.Contains("signalstream_", StringComparison.Ordinal)));

        Assert.Equal(Ours(harness.ScrapeText()), Ours(harness.ScrapeText()));
    }

    [Fact]
    public void TagSetsBeyondTheCapAreFoldedIntoAnOverflowSeriesAndCounted()
    {
        using var harness = new CollectorHarness(o => o.MaxSeriesPerMetric = 3);
        var counter = harness.Meter.CreateCounter<long>("signalstream_test_total");
        for (var i = 0; i < 10; i++)
        {
            counter.Add(1, new KeyValuePair<string, object?>("id", i));
        }

        var families = harness.Scrape();

        var samples = families["signalstream_test_total"].Samples;
        Assert.Equal(4, samples.Count);
        Assert.Equal(10, samples.Sum(s => s.Value));
        Assert.Equal(7, samples.Single(s => s.Label("overflow") == "true").Value);
        var dropped = families["signalstream_metrics_overflow_measurements_total"].Samples.Single(s => s.Label("metric") == "signalstream_test_total");
        Assert.Equal(7, dropped.Value);
    }

    [Fact]
    public void ObservableSeriesThatAreNoLongerReportedDisappear()
    {
        using var harness = new CollectorHarness();
        var reported = new List<Measurement<int>> { new(1, new KeyValuePair<string, object?>("model", "lstm")), new(2, new KeyValuePair<string, object?>("model", "patchtst")) };
        harness.Meter.CreateObservableGauge("signalstream_test_models", () => reported.ToArray());

        Assert.Equal(2, harness.Scrape()["signalstream_test_models"].Samples.Count);
        reported.RemoveAt(0);

        var sample = Assert.Single(harness.Scrape()["signalstream_test_models"].Samples);
        Assert.Equal("patchtst", sample.Label("model"));
    }

    [Fact]
    public void NegativeCounterAddsAndNaNHistogramValuesAreIgnored()
    {
        using var harness = new CollectorHarness();
        harness.Meter.CreateCounter<double>("signalstream_test_total").Add(-1);
        harness.Meter.CreateCounter<double>("signalstream_test_total").Add(2);
        harness.Meter.CreateHistogram<double>("signalstream_pipeline_latency_seconds").Record(double.NaN);

        var families = harness.Scrape();

        Assert.Equal(2, Assert.Single(families["signalstream_test_total"].Samples).Value);
        Assert.Empty(families["signalstream_pipeline_latency_seconds"].Samples);
    }

    [Fact]
    public void InstrumentsOfAnotherHostsMeterFactoryAreNotExported()
    {
        using var mine = new CollectorHarness();
        using var other = new CollectorHarness();
        other.Meter.CreateCounter<long>("signalstream_other_total").Add(1);

        Assert.DoesNotContain("signalstream_other_total", mine.Scrape().Keys);
        Assert.Contains("signalstream_other_total", other.Scrape().Keys);
    }

    [Fact]
    public void RecordingOnAnExistingSeriesAllocatesNothing()
    {
        using var harness = new CollectorHarness();
        var counter = harness.Meter.CreateCounter<long>("signalstream_test_total");
        var histogram = harness.Meter.CreateHistogram<double>("signalstream_pipeline_latency_seconds");
        var exchange = new KeyValuePair<string, object?>("exchange", "binance");
        var timeframe = new KeyValuePair<string, object?>("timeframe", "1m");
        for (var i = 0; i < 100; i++)
        {
            counter.Add(1, exchange, timeframe);
            histogram.Record(0.001 * i, exchange);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            counter.Add(1, exchange, timeframe);
            histogram.Record(0.001 * i, exchange);
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Equal(10_100, harness.Scrape()["signalstream_test_total"].Samples.Single().Value);
    }
}
