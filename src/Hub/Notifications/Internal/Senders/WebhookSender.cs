using System.Text.Json;
using SignalStream.Contracts.Serialization;

namespace SignalStream.Hub.Notifications.Internal.Senders;

/// <summary>
/// <c>webhook</c>: POSTs the hub's JSON of the signal (or outcome) with an <c>event</c> property in front, signed with
/// <see cref="WebhookSignature"/> at each attempt's own time and carrying the delivery id every attempt shares.
/// </summary>
internal sealed class WebhookSender(SinkSettings settings, TimeProvider time) : HttpSender(settings, time)
{
    private static readonly byte[] s_signalPrefix = "{\"event\":\"signal\","u8.ToArray();
    private static readonly byte[] s_resolvedPrefix = "{\"event\":\"signalResolved\","u8.ToArray();

    private readonly byte[] _key = WebhookSignature.Key(settings.Secret!);

    public override RenderedNotification Render(Notification notification)
    {
        var json = notification.Outcome is { } outcome
            ? JsonSerializer.SerializeToUtf8Bytes(outcome, ContractsJsonContext.Default.SignalOutcome)
            : JsonSerializer.SerializeToUtf8Bytes(notification.Signal!, ContractsJsonContext.Default.Signal);

        // The contract's object with "event" as its first property: {"event":"signal","id":…}. Both contract types
        // always have properties, so the object never closes right after its opening brace.
        var prefix = notification.Event == NotificationEvents.Signal ? s_signalPrefix : s_resolvedPrefix;
        var body = new byte[prefix.Length + json.Length - 1];
        prefix.CopyTo(body, 0);
        json.AsSpan(1).CopyTo(body.AsSpan(prefix.Length));
        return new RenderedNotification(body, MessageText.Headline(notification));
    }

    protected override void AddHeaders(HttpRequestMessage request, RenderedNotification rendered, Guid deliveryId)
    {
        var now = Time.GetUtcNow().ToUnixTimeSeconds();
        request.Headers.TryAddWithoutValidation(WebhookSignature.SignatureHeader, WebhookSignature.Create(_key, now, rendered.Body));
        request.Headers.TryAddWithoutValidation(WebhookSignature.DeliveryHeader, deliveryId.ToString("D"));
    }
}
