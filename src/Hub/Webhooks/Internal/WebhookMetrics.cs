using System.Diagnostics.CodeAnalysis;
using System.Diagnostics.Metrics;

namespace SignalStream.Hub.Webhooks.Internal;

/// <summary>The <c>SignalStream.Webhooks</c> meter: every alert request by source and result.</summary>
internal sealed class WebhookMetrics
{
    public const string MeterName = "SignalStream.Webhooks";

    /// <summary>The source label of a request whose source is not configured (one label, whatever the URL said).</summary>
    public const string UnknownSource = "unknown";

    private readonly Counter<long> _alerts;

    [SuppressMessage("Reliability", "CA2000:Dispose objects before losing scope", Justification = "The IMeterFactory owns the meters it creates: one cached meter per name, disposed with the container.")]
    public WebhookMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _alerts = meter.CreateCounter<long>(
            "signalstream_webhook_alerts_total",
            description: "TradingView alert requests by source and result (accepted, duplicate, unauthorized, locked_out, invalid, too_large, rate_limited, unavailable).");
    }

    public void Alert(string source, string result) => _alerts.Add(1, new("source", source), new("result", result));
}
