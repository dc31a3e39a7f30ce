using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using SignalStream.Contracts;
using SignalStream.Engine.Events;
using SignalStream.Engine.Signals;
using SignalStream.Hub.Auth;
using SignalStream.Hub.Webhooks.Internal;

namespace SignalStream.Hub.Webhooks;

/// <summary>
/// <c>POST /api/webhooks/tradingview/{source}</c> (docs/signals.md, "TradingView alerts"). Checks run cheapest and least
/// revealing first: the caller's address's failed authentications (429, nothing read) → body size (413) → one JSON object
/// (400) → source and secret (401, the same answer for an unknown source and a wrong secret) → the source's rate (429) →
/// every field (400 naming it), then the alert's age (400 <c>timenow</c>) → the node's markets (400) → a retry of an
/// accepted alert (202 again, nothing taken twice) → the engine (202; 400 when the alert does not fit the market; 503
/// while the stream has no candle or the node stops). Only an accepted alert is stored.
/// </summary>
internal sealed partial class TradingViewWebhook : IDisposable
{
    public const string Route = "/api/webhooks/tradingview/{source}";

    // An unknown source is compared against this digest, so it costs what a wrong secret costs.
    private static readonly byte[] s_unknownDigest = WebhookSource.Digest("no such source: compared so that an unknown name takes as long as a wrong secret");

    private readonly Dictionary<string, WebhookSource> _sources = new(StringComparer.OrdinalIgnoreCase);
    private readonly int _maxBodyBytes;
    private readonly AuthFailureLimiter _authFailures;
    private readonly WebhooksOptions _settings;
    private readonly IAlertIntake _intake;
    private readonly HashSet<string> _symbols;
    private readonly Timeframe[] _timeframes;
    private readonly TimeProvider _time;
    private readonly WebhookMetrics _metrics;
    private readonly CancellationToken _stopping;
    private readonly ILogger _logger;

    public TradingViewWebhook(
        IOptions<WebhooksOptions> options,
        IAlertIntake intake,
        IReadOnlyList<string> servedSymbols,
        IReadOnlyList<Timeframe> servedTimeframes,
        TimeProvider time,
        WebhookMetrics metrics,
        IHostApplicationLifetime lifetime,
        ILogger<TradingViewWebhook> logger)
    {
        var settings = options.Value;
        foreach (var (name, source) in settings.TradingView)
        {
            _sources[name] = new WebhookSource(name, source, time);
        }

        _maxBodyBytes = settings.MaxBodyBytes;
        _settings = settings;
        _authFailures = new AuthFailureLimiter(settings.AuthFailureBurst, settings.AuthFailuresPerMinute);
        _intake = intake;
        _symbols = new HashSet<string>(servedSymbols, StringComparer.Ordinal);
        _timeframes = [.. servedTimeframes];
        _time = time;
        _metrics = metrics;
        _stopping = lifetime.ApplicationStopping;
        _logger = logger;
        Log.Configured(_logger, _sources.Count, string.Join(", ", _sources.Values.Select(s => $"{s.Name} ({s.Mode.ToString().ToLowerInvariant()})")));
    }

    /// <summary>The configured sources by name (case-insensitive), for the start-up loader.</summary>
    public IReadOnlyDictionary<string, WebhookSource> Sources => _sources;

    public async Task<IResult> HandleAsync(HttpContext http, string source)
    {
        _sources.TryGetValue(source, out var configured);
        var label = configured?.Name ?? WebhookMetrics.UnknownSource;
        var client = ClientKeys.AddressKeyOf(http);
        if (_authFailures.IsLockedOut(client, out var lockedFor))
        {
            return LockedOut(http, label, lockedFor);
        }

        if (http.Request.ContentLength > _maxBodyBytes)
        {
            return TooLarge(label, http.Request.ContentLength.Value);
        }

        AlertFields fields;
        string dedupeKey;
        var buffer = ArrayPool<byte>.Shared.Rent(_maxBodyBytes + 1);
        try
        {
            // One byte more than allowed is read, never more: a body past the bound is refused without being buffered.
            var length = await ReadAtMostAsync(http.Request.Body, buffer, _maxBodyBytes + 1, http.RequestAborted).ConfigureAwait(false);
            if (length > _maxBodyBytes)
            {
                return TooLarge(label, null);
            }

            var body = buffer.AsSpan(0, length);
            if (!AlertBody.TryRead(body, out var alert, out var syntax))
            {
                return Invalid(label, "body", syntax!);
            }

            var matches = CryptographicOperations.FixedTimeEquals(WebhookSource.Digest(alert!.Secret), configured?.SecretDigest ?? s_unknownDigest);
            if (!matches || configured is null || alert.Secret is null)
            {
                _authFailures.CountFailure(client);
                _metrics.Alert(label, "unauthorized");
                Log.Refused(_logger, label, StatusCodes.Status401Unauthorized, "unknown source or wrong secret");
                return Problem(
                    StatusCodes.Status401Unauthorized,
                    "Unauthorized",
                    "Unknown source or wrong secret: check the last segment of the webhook URL and the alert's \"secret\".",
                    field: "secret");
            }

            if (!configured.Limiter.TryTake(out var retryAfter))
            {
                return TooMany(http, label, "rate_limited", "rate limit", retryAfter, "Too many alerts", seconds =>
                    $"Source '{configured.Name}' sent more alerts than its limit (Burst, AlertsPerMinute); send again in {seconds} s.");
            }

            if (!alert.TryValidate(out var valid, out var problem))
            {
                return Invalid(label, problem!.Field, problem.Detail);
            }

            fields = valid!;
            if (Stale(configured, fields) is { } stale)
            {
                return Invalid(label, "timenow", stale);
            }

            dedupeKey = fields.Id is { } id
                ? "id:" + id
                : "sha256:" + Convert.ToHexStringLower(SHA256.HashData(body));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        if (!_symbols.Contains(fields.Symbol))
        {
            return Invalid(label, "ticker", $"{fields.Symbol} is not served by this node (it serves {string.Join(", ", _symbols.Order(StringComparer.Ordinal))}; Ingest:Symbols).");
        }

        if (configured.Symbols is { } allowed && !allowed.Contains(fields.Symbol))
        {
            return Invalid(label, "ticker", $"source '{configured.Name}' may not send {fields.Symbol}; its Symbols allow {string.Join(", ", allowed.Order(StringComparer.Ordinal))}.");
        }

        if ((fields.Timeframe ?? configured.DefaultTimeframe) is not { } timeframe)
        {
            return Invalid(label, "interval", $"interval is required: send TradingView's {{{{interval}}}} (source '{configured.Name}' has no default Timeframe).");
        }

        if (Array.IndexOf(_timeframes, timeframe) < 0)
        {
            return Invalid(label, "interval", $"interval '{fields.Interval ?? timeframe.ToName()}' is {timeframe.ToName()}, which this node does not serve (it serves {string.Join(", ", _timeframes.Select(t => t.ToName()))}; Ingest:Timeframes).");
        }

        // A retry of an accepted alert gets its first answer; one racing it waits for that answer.
        while (!configured.Dedupe.TryReserve(dedupeKey, out var earlier))
        {
            if (await earlier.WaitAsync(http.RequestAborted).ConfigureAwait(false) is { } answer)
            {
                _metrics.Alert(label, "duplicate");
                Log.Duplicate(_logger, label, answer.EventId);
                return Accepted(answer with { Duplicate = true });
            }
        }

        var submission = new AlertSubmission
        {
            Received = new TradingViewAlertReceived
            {
                Id = Guid.CreateVersion7(_time.GetUtcNow()),
                Source = configured.Source,
                Mode = configured.Mode == AlertMode.Vote ? "vote" : "signal",
                Action = fields.RawAction,
                Symbol = fields.Symbol,
                Timeframe = timeframe,
                Price = fields.Price,
                Stop = fields.Stop,
                Target = fields.Target,
                Strategy = fields.Strategy,
                Comment = fields.Comment,
                Ticker = fields.Ticker,
                Interval = fields.Interval,
                DedupeKey = dedupeKey,
                ReceivedAt = _time.GetUtcNow().ToUnixTimeMilliseconds(),
                MarketTime = 0, // the engine sets it: the close time of the stream's last closed candle
            },
            Mode = configured.Mode,
            Action = fields.Action,
            Policy = configured.Policy,
        };

        // The engine's part runs to its end even if the caller hangs up: a seq is never taken halfway.
        var (result, accepted) = await SubmitAsync(configured, submission).WaitAsync(http.RequestAborted).ConfigureAwait(false);
        switch (result)
        {
            case AlertResult.Rejected rejected:
                return Invalid(label, rejected.Field, rejected.Detail);
            case AlertResult.NotReady notReady:
                return Unavailable(http, label, notReady.Detail);
            case null:
                return Unavailable(http, label, "The node is shutting down; send the alert to a running node.");
            default:
                _metrics.Alert(label, "accepted");
                return Accepted(accepted!);
        }
    }

    /// <summary>The answer an accepted alert gets (and a retry of it gets again).</summary>
    internal static AlertAnswer Answer(string source, AlertMode mode, string action, string symbol, Timeframe timeframe, Guid eventId, AlertResult result)
    {
        var answer = new AlertAnswer(eventId, source, mode == AlertMode.Vote ? "vote" : "signal", action, symbol, timeframe.ToName());
        return result switch
        {
            AlertResult.Published p => answer with { SignalId = p.SignalId, Seq = p.Seq, Target = p.Target, Stop = p.Stop },
            AlertResult.Voted v => answer with { SignalId = v.SignalId, Weight = v.Weight, VoteExpiresAt = v.ExpiresAt },
            AlertResult.Exited e => answer with { Closing = e.Closing },
            _ => answer,
        };
    }

    private async Task<(AlertResult? Result, AlertAnswer? Answer)> SubmitAsync(WebhookSource source, AlertSubmission submission)
    {
        try
        {
            var result = await _intake.SubmitAsync(submission, _stopping).ConfigureAwait(false);
            if (result is AlertResult.Rejected or AlertResult.NotReady)
            {
                source.Dedupe.Abandon(submission.DedupeKey);
                return (result, null);
            }

            // 202 means stored: the answer waits for the store's acknowledgement (a retry meanwhile waits for the same).
            await result.Committed.WaitAsync(_stopping).ConfigureAwait(false);

            var answer = Answer(source.Source, submission.Mode, submission.RawAction, submission.Symbol, submission.Timeframe, submission.Id, result);
            source.Dedupe.Complete(submission.DedupeKey, answer);
            return (result, answer);
        }
        catch (Exception ex) when (ex is OperationCanceledException or InvalidOperationException)
        {
            // Stopping: the engine's outputs refuse new events (the writer has stopped) or the wait was cancelled. The
            // alert was not taken; a retry is handled afresh.
            source.Dedupe.Abandon(submission.DedupeKey);
            Log.Unavailable(_logger, source.Name, ex.Message);
            return (null, null);
        }
    }

    public void Dispose() => _authFailures.Dispose();

    /// <summary>
    /// Why the alert's <c>timenow</c> is outside the source's <c>MaxAlertAge</c> of now, or null. A captured body replayed
    /// after the duplicate window is refused here rather than taken as a new signal, and so is an alert TradingView
    /// delivered late: its price is a past one.
    /// </summary>
    private string? Stale(WebhookSource source, AlertFields fields)
    {
        if (fields.FiredAt is not { } fired || source.MaxAlertAge == TimeSpan.Zero)
        {
            return null;
        }

        var age = TimeSpan.FromSeconds(Math.Round((_time.GetUtcNow() - fired).TotalSeconds)); // whole seconds, as timenow has
        var key = $"Webhooks:TradingView:{source.Name}:MaxAlertAge";
        if (age > source.MaxAlertAge)
        {
            return $"timenow {fired:yyyy-MM-ddTHH:mm:ssZ} is {age:c} old; source '{source.Name}' takes alerts at most {source.MaxAlertAge:c} old ({key}): a late or replayed alert is not a new signal.";
        }

        return -age > source.MaxAlertAge
            ? $"timenow {fired:yyyy-MM-ddTHH:mm:ssZ} is {-age:c} ahead of this node's clock; at most {source.MaxAlertAge:c} ({key}) is accepted."
            : null;
    }

    private IResult LockedOut(HttpContext http, string label, TimeSpan retryAfter) =>
        TooMany(http, label, "locked_out", "too many failed authentications from the address", retryAfter, "Too many failed authentications", seconds =>
            $"Too many requests with an unknown source or a wrong secret from your address: at most {_settings.AuthFailureBurst} at once, then {_settings.AuthFailuresPerMinute} per minute (Webhooks:AuthFailureBurst, Webhooks:AuthFailuresPerMinute); retry after {seconds} s.");

    /// <summary>429 with <c>Retry-After</c> in whole seconds (at least 1), counted as <paramref name="result"/> and logged.</summary>
    private IResult TooMany(HttpContext http, string label, string result, string why, TimeSpan retryAfter, string title, Func<int, string> detail)
    {
        var seconds = (int)Math.Ceiling(Math.Max(retryAfter.TotalSeconds, 1));
        http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        _metrics.Alert(label, result);
        Log.Refused(_logger, label, StatusCodes.Status429TooManyRequests, why);
        return Problem(StatusCodes.Status429TooManyRequests, title, detail(seconds));
    }

    private static async ValueTask<int> ReadAtMostAsync(Stream body, byte[] buffer, int limit, CancellationToken cancellationToken)
    {
        var total = 0;
        while (total < limit)
        {
            var read = await body.ReadAsync(buffer.AsMemory(total, limit - total), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }

    private static IResult Accepted(AlertAnswer answer) =>
        Results.Json(answer, WebhookJsonContext.Default.AlertAnswer, statusCode: StatusCodes.Status202Accepted);

    private IResult TooLarge(string label, long? length)
    {
        _metrics.Alert(label, "too_large");
        Log.Refused(_logger, label, StatusCodes.Status413PayloadTooLarge, "body too large");
        return Problem(
            StatusCodes.Status413PayloadTooLarge,
            "Body too large",
            length is { } n
                ? $"The body is {n} bytes; alerts are at most {_maxBodyBytes} bytes (Webhooks:MaxBodyBytes)."
                : $"The body is over {_maxBodyBytes} bytes (Webhooks:MaxBodyBytes).");
    }

    private IResult Invalid(string label, string field, string detail)
    {
        _metrics.Alert(label, "invalid");
        Log.Refused(_logger, label, StatusCodes.Status400BadRequest, field);
        return Problem(StatusCodes.Status400BadRequest, $"Invalid field '{field}'", detail, field);
    }

    private IResult Unavailable(HttpContext http, string label, string detail)
    {
        _metrics.Alert(label, "unavailable");
        http.Response.Headers.RetryAfter = "5";
        return Problem(StatusCodes.Status503ServiceUnavailable, "Not ready", detail);
    }

    private static IResult Problem(int status, string title, string detail, string? field = null) => Results.Problem(
        detail: detail,
        statusCode: status,
        title: title,
        extensions: field is null ? null : new Dictionary<string, object?> { ["field"] = field });
}
