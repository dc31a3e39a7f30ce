using System.Globalization;
using System.Text;
using Telegram.Bot;
using Telegram.Bot.Exceptions;
using Telegram.Bot.Types;

namespace SignalStream.Hub.Notifications.Internal.Senders;

/// <summary>
/// <c>telegram</c>: <c>sendMessage</c> through Telegram.Bot to the configured chat, as plain text (no parse mode:
/// nothing in a signal can be taken for markup). The library's own 429 retries are off, so every attempt is this
/// sink's, counted and backed off like the others; Telegram's <c>retry_after</c> is honoured.
/// </summary>
internal sealed class TelegramSender : INotificationSender
{
    // Telegram's limit for one message's text.
    private const int TextMax = 4096;

    private readonly HttpClient _http;
    private readonly TelegramBotClient _bot;
    private readonly ChatId _chat;
    private readonly string _token;

    public TelegramSender(SinkSettings settings)
    {
        _token = settings.BotToken!;
        _http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false, ConnectTimeout = settings.Timeout })
        {
            Timeout = System.Threading.Timeout.InfiniteTimeSpan,
        };

        // The base URL is always passed (api.telegram.org by default), so a local Bot API server or a test double works.
        var options = new TelegramBotClientOptions(_token, settings.ApiBaseUrl!.ToString().TrimEnd('/'))
        {
            RetryCount = 0,
            RetryThreshold = 0,
        };
        _bot = new TelegramBotClient(options, _http);
        _chat = long.TryParse(settings.ChatId, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var id) ? new ChatId(id) : new ChatId(settings.ChatId!);
    }

    public RenderedNotification Render(Notification notification)
    {
        var text = MessageText.PlainText(notification);
        if (text.Length > TextMax)
        {
            text = text[..(TextMax - 1)] + "…";
        }

        return new RenderedNotification(Encoding.UTF8.GetBytes(text), MessageText.Headline(notification));
    }

    public async ValueTask<SendResult> SendAsync(RenderedNotification rendered, Guid deliveryId, CancellationToken cancellationToken)
    {
        try
        {
            await _bot.SendMessage(
                _chat,
                Encoding.UTF8.GetString(rendered.Body),
                linkPreviewOptions: new LinkPreviewOptions { IsDisabled = true },
                cancellationToken: cancellationToken).ConfigureAwait(false);
            return SendResult.Delivered;
        }
        catch (ApiRequestException ex)
        {
            // Bot API errors: 429 (with parameters.retry_after), 5xx are worth another attempt; 400 (chat not found,
            // bad request) and 401/403 (bad token, bot removed from the chat) are not.
            var retryAfter = ex.Parameters?.RetryAfter is int seconds ? TimeSpan.FromSeconds(seconds) : (TimeSpan?)null;
            var error = Scrub($"Bot API error {ex.ErrorCode}: {ex.Message}");
            return new SendResult(RetryPolicy.IsTransient(ex.ErrorCode) ? SendStatus.Transient : SendStatus.Permanent, error, retryAfter);
        }
        catch (RequestException ex) when (!cancellationToken.IsCancellationRequested)
        {
            // No Bot API answer: the network, or a reply that was not the Bot API's JSON.
            var status = ex.HttpStatusCode is { } code ? (int)code : 0;
            var error = Scrub($"the Bot API could not be reached or answered without a result{(status > 0 ? $" (HTTP {status})" : "")}: {ex.InnerException?.Message ?? ex.Message}");
            return new SendResult(status == 0 || RetryPolicy.IsTransient(status) ? SendStatus.Transient : SendStatus.Permanent, error);
        }
        catch (HttpRequestException ex) when (!cancellationToken.IsCancellationRequested)
        {
            return new SendResult(SendStatus.Transient, Scrub($"the Bot API could not be reached: {ex.Message}"));
        }
    }

    public void Dispose() => _http.Dispose();

    // The token sits in every request path (/bot<token>/sendMessage): it must never reach a log or a dead letter.
    private string Scrub(string text) => text.Replace(_token, "***", StringComparison.Ordinal);
}
