using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using SignalStream.Contracts;

namespace SignalStream.Hub.Notifications.Internal.Senders;

/// <summary>
/// <c>discord</c>: an incoming-webhook message with one embed (title, colour, inline fields, the rationale as its
/// description). Mentions are switched off (<c>allowed_mentions</c>), so no text in a signal can ping a channel.
/// Discord answers 204; when rate limited, 429 with <c>Retry-After</c> and <c>retry_after</c> in the body.
/// </summary>
internal sealed class DiscordSender(SinkSettings settings, TimeProvider time) : HttpSender(settings, time)
{
    // Discord's documented embed limits.
    private const int TitleMax = 256;
    private const int DescriptionMax = 4096;
    private const int FieldValueMax = 1024;

    public override RenderedNotification Render(Notification notification)
    {
        var headline = MessageText.Headline(notification);
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("username", "SignalStream");
            json.WriteStartObject("allowed_mentions");
            json.WriteStartArray("parse");
            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteStartArray("embeds");
            json.WriteStartObject();
            json.WriteString("title", Cut(headline, TitleMax));
            json.WriteString("description", Cut(Description(notification), DescriptionMax));
            json.WriteNumber("color", Colour(notification));
            json.WriteStartArray("fields");
            foreach (var (label, value) in MessageText.Fields(notification))
            {
                json.WriteStartObject();
                json.WriteString("name", label);
                json.WriteString("value", Cut(value, FieldValueMax));
                json.WriteBoolean("inline", label != "Why");
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteStartObject("footer");
            json.WriteString("text", "id " + notification.SignalId);
            json.WriteEndObject();
            json.WriteString("timestamp", DateTimeOffset.FromUnixTimeMilliseconds(notification.OccurredAt).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
            json.WriteEndObject();
            json.WriteEndArray();
            json.WriteEndObject();
        }

        return new RenderedNotification(buffer.WrittenSpan.ToArray(), headline);
    }

    protected override TimeSpan? RetryAfterFromBody(int status, string body)
    {
        if (status != 429)
        {
            return null;
        }

        try
        {
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.TryGetProperty("retry_after", out var seconds) && seconds.ValueKind == JsonValueKind.Number
                ? RetryPolicy.Seconds(seconds.GetDouble().ToString(CultureInfo.InvariantCulture))
                : null;
        }
        catch (JsonException)
        {
            // The snippet was cut or is not JSON: the header (read first) is the reliable source anyway.
            return null;
        }
    }

    private static string Description(Notification n) => n.Outcome is null && n.Signal is { } s ? string.Join("\n", s.Rationale) : "";

    private static int Colour(Notification n) => n switch
    {
        { Outcome.Outcome: OutcomeKind.Win } => 0x26A269,
        { Outcome.Outcome: OutcomeKind.Loss } => 0xE01B24,
        { Outcome: not null } => 0x7B8794,
        { Signal.Direction: SignalDirection.Long } => 0x26A269,
        _ => 0xE01B24,
    };

    internal static string Cut(string text, int max) => text.Length <= max ? text : text[..(max - 1)] + "…";
}

/// <summary>
/// <c>slack</c>: an incoming-webhook message: <c>text</c> (the notification's one-line fallback) and Block Kit
/// blocks (a header, the fields, the rationale, the id). Slack answers 200 <c>ok</c>; when rate limited, 429 with
/// <c>Retry-After</c>.
/// </summary>
internal sealed class SlackSender(SinkSettings settings, TimeProvider time) : HttpSender(settings, time)
{
    // Slack's documented limits: a header's text, a section's fields (count and length), a section's text.
    private const int HeaderMax = 150;
    private const int FieldsMax = 10;
    private const int FieldMax = 2000;
    private const int SectionMax = 3000;

    public override RenderedNotification Render(Notification notification)
    {
        var headline = MessageText.Headline(notification);
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("text", headline);
            json.WriteStartArray("blocks");

            json.WriteStartObject();
            json.WriteString("type", "header");
            PlainText(json, "text", DiscordSender.Cut(headline, HeaderMax));
            json.WriteEndObject();

            json.WriteStartObject();
            json.WriteString("type", "section");
            json.WriteStartArray("fields");
            var count = 0;
            foreach (var (label, value) in MessageText.Fields(notification))
            {
                if (count++ == FieldsMax)
                {
                    break;
                }

                Markdown(json, null, DiscordSender.Cut($"*{Escape(label)}*\n{Escape(value)}", FieldMax));
            }

            json.WriteEndArray();
            json.WriteEndObject();

            if (notification.Outcome is null && notification.Signal is { Rationale.Count: > 0 } s)
            {
                json.WriteStartObject();
                json.WriteString("type", "section");
                Markdown(json, "text", DiscordSender.Cut(string.Join("\n", s.Rationale.Select(r => "• " + Escape(r))), SectionMax));
                json.WriteEndObject();
            }

            json.WriteStartObject();
            json.WriteString("type", "context");
            json.WriteStartArray("elements");
            Markdown(json, null, "id " + Escape(notification.SignalId));
            json.WriteEndArray();
            json.WriteEndObject();

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return new RenderedNotification(buffer.WrittenSpan.ToArray(), headline);
    }

    private static void PlainText(Utf8JsonWriter json, string property, string text)
    {
        json.WriteStartObject(property);
        json.WriteString("type", "plain_text");
        json.WriteString("text", text);
        json.WriteEndObject();
    }

    private static void Markdown(Utf8JsonWriter json, string? property, string text)
    {
        if (property is null)
        {
            json.WriteStartObject();
        }
        else
        {
            json.WriteStartObject(property);
        }

        json.WriteString("type", "mrkdwn");
        json.WriteString("text", text);
        json.WriteEndObject();
    }

    /// <summary>Slack's mrkdwn control characters (&amp;, &lt;, &gt;), so no text of a signal can form a link or a mention.</summary>
    private static string Escape(string text) =>
        new StringBuilder(text).Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").ToString();
}
