using System.Globalization;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;
using SignalStream.Contracts;
using SignalStream.Contracts.Serialization;
using SignalStream.Engine.Inference;
using SignalStream.Engine.Journal;
using SignalStream.Hub.Auth;
using SignalStream.Hub.FanOut;
using SignalStream.Hub.Hubs;

namespace SignalStream.Hub.Api;

/// <summary>
/// The REST surface (docs/hub.md): <c>/api/signals</c>, <c>/api/signals/latest</c>, <c>/api/outcomes</c>, <c>/api/candles</c>, <c>/api/symbols</c>,
/// <c>/api/models</c>, <c>/api/performance</c>. Bad parameters get 400 problem+json naming the parameter; a store that
/// fails or does not answer within <c>Hub:History:ReadTimeout</c> gets 503 problem+json; every endpoint here is under the
/// per-client rate limit (<see cref="ApiRateLimiting"/>).
/// </summary>
internal static partial class RestApi
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;

    /// <param name="runsEngine">
    /// Whether this node runs the engine (Node:Roles): only then does it have the model catalog and the signal journal that
    /// <c>/api/models</c> and <c>/api/performance</c> serve; a hub-only node answers them 503 with where to ask instead.
    /// </param>
    public static void MapSignalStreamApi(this WebApplication app, bool requireAuth, bool runsEngine)
    {
        var api = app.MapGroup("/api");
        if (requireAuth)
        {
            api.RequireAuthorization();
        }

        if (app.Services.GetRequiredService<IOptions<ApiOptions>>().Value.RateLimit.Enabled)
        {
            // On this group's endpoints only: endpoints mapped elsewhere under /api (webhooks) keep their own limits.
            api.RequireRateLimiting(ApiRateLimiting.PolicyName);
        }

        api.MapGet("/signals", ReadSignalsAsync);
        api.MapGet("/signals/latest", ReadLatestAsync);
        api.MapGet("/outcomes", ReadOutcomesAsync);
        api.MapGet("/candles", ReadCandlesAsync);
        api.MapGet("/symbols", ListSymbolsAsync);
        // Which source serves the statistics is decided here, once: the store's durable projection where it keeps one
        // (Marten, on every node), else the engine's in-memory journal, else nothing on this node.
        if (app.Services.GetService<IStoredPerformanceReport>() is { } stored)
        {
            api.MapGet("/performance", (HttpContext http, IOptions<SignalHistoryOptions> history, ILoggerFactory loggers, CancellationToken cancellationToken) =>
                ReadStoredPerformanceAsync(http, stored, history.Value.ReadTimeout, loggers, cancellationToken));
        }
        else if (runsEngine)
        {
            var report = app.Services.GetRequiredService<IPerformanceReport>();
            api.MapGet("/performance", (HttpContext http) =>
                Results.Json(Entitlements.From(http.User).Visible(report.GetReport()), ContractsJsonContext.Default.PerformanceReport));
        }
        else
        {
            api.MapGet("/performance", () => Unavailable("This node has no signal journal (it does not run the engine); ask a node with Node:Roles all or engine, or run the store on Storage:Provider=marten, whose performance projection every node serves."));
        }

        if (runsEngine)
        {
            var catalog = app.Services.GetRequiredService<IModelCatalog>();
            api.MapGet("/models", () => Results.Json(catalog.GetModels(), ContractsJsonContext.Default.IReadOnlyListModelInfo));
        }
        else
        {
            api.MapGet("/models", () => Unavailable("This node has no model catalog (it does not run the engine); ask a node with Node:Roles all or engine."));
        }
    }

    private static Task<IResult> ReadSignalsAsync(HttpContext http, ServedMarkets markets, SignalHistoryReader history, CancellationToken cancellationToken) =>
        ReadPageAsync(http, markets, history, "afterSeq", "seq", static (h, symbol, after, limit, ct) => h.ReadSignalsAsync(symbol, after, limit, ct),
            ContractsJsonContext.Default.IReadOnlyListSignal, cancellationToken);

    /// <summary>
    /// A symbol's live outcomes after <c>afterOutcomeSeq</c>, oldest first, a page at a time: how a client gets back the
    /// outcomes a resume could not return (past <c>Hub:MaxRecoverySignals</c>; the SDK's <c>OutcomeGapError</c>). Shadow
    /// models' outcomes are not in this stream (they are never published).
    /// </summary>
    private static Task<IResult> ReadOutcomesAsync(HttpContext http, ServedMarkets markets, SignalHistoryReader history, CancellationToken cancellationToken) =>
        ReadPageAsync(http, markets, history, "afterOutcomeSeq", "outcomeSeq", static (h, symbol, after, limit, ct) => h.ReadOutcomesAsync(symbol, after, limit, ct),
            ContractsJsonContext.Default.IReadOnlyListSignalOutcome, cancellationToken);

    /// <summary>
    /// A candle stream's stored closed candles with openTime after <c>afterOpenTime</c>, oldest first, a page at a time,
    /// in the shape of the live <c>candle</c> event: how a client gets back the closed candles sent while it was away (live
    /// candles are not replayed on a re-subscribe).
    /// </summary>
    private static Task<IResult> ReadCandlesAsync(HttpContext http, ServedMarkets markets, SignalHistoryReader history, CancellationToken cancellationToken)
    {
        if (!HubArguments.TryTimeframe(http.Request.Query["timeframe"], markets, out var timeframe, out var error))
        {
            return Task.FromResult(BadParameter("timeframe", error));
        }

        return ReadPageAsync(http, markets, history, "afterOpenTime", "closed candle's openTime",
            async (h, symbol, after, limit, ct) => ClosedCandleMessages(await h.ReadCandlesAsync(new StreamKey(symbol, timeframe), after, limit, ct).ConfigureAwait(false)),
            ContractsJsonContext.Default.IReadOnlyListCandleMessage, cancellationToken);
    }

    private static IReadOnlyList<CandleMessage> ClosedCandleMessages(IReadOnlyList<Candle> candles)
    {
        var messages = new CandleMessage[candles.Count];
        for (var i = 0; i < messages.Length; i++)
        {
            var c = candles[i];
            messages[i] = new CandleMessage(c.Symbol, c.Timeframe, c.OpenTime, c.CloseTime, c.Open, c.High, c.Low, c.Close, c.Volume, IsClosed: true);
        }

        return messages;
    }

    /// <summary>One page of a symbol's stored items after a position: the symbol, the page's parameters, the store's
    /// presence and its answer in time, each checked with the same errors for every paged endpoint.</summary>
    private static async Task<IResult> ReadPageAsync<T>(
        HttpContext http,
        ServedMarkets markets,
        SignalHistoryReader history,
        string afterName,
        string what,
        Func<SignalHistoryReader, string, long, int, CancellationToken, ValueTask<T>> read,
        System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> json,
        CancellationToken cancellationToken)
    {
        if (!TrySymbol(http, markets, out var symbol, out var problem))
        {
            return problem;
        }

        if (!TryPage(http.Request.Query, afterName, what, out var after, out var limit, out problem))
        {
            return problem;
        }

        if (!history.HasStore)
        {
            return NoStore();
        }

        try
        {
            return Results.Json(await read(history, symbol, after, limit, cancellationToken), json);
        }
        catch (SignalHistoryUnavailableException ex)
        {
            return HistoryUnavailable(http, ex);
        }
    }

    /// <summary>A page's position (<paramref name="afterName"/>, default 0) and <c>limit</c> (default
    /// <see cref="DefaultLimit"/>), or a 400 naming the parameter.</summary>
    private static bool TryPage(IQueryCollection query, string afterName, string what, out long after, out int limit, out IResult problem)
    {
        // NumberStyles.None: digits only (no sign, blanks or separators); TryParse fails past long.MaxValue.
        after = 0;
        limit = DefaultLimit;
        problem = Results.Empty;
        if (query.TryGetValue(afterName, out var afterText)
            && (!long.TryParse(afterText, NumberStyles.None, CultureInfo.InvariantCulture, out after)))
        {
            problem = BadParameter(afterName, $"{afterName} '{Truncate(afterText.ToString())}' must be a whole number from 0 to {long.MaxValue} (the last {what} you have).");
            return false;
        }

        if (query.TryGetValue("limit", out var limitText)
            && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > MaxLimit))
        {
            problem = BadParameter("limit", $"limit '{Truncate(limitText.ToString())}' must be a whole number from 1 to {MaxLimit}.");
            return false;
        }

        return true;
    }

    private static async Task<IResult> ReadLatestAsync(HttpContext http, ServedMarkets markets, SignalHistoryReader history, CancellationToken cancellationToken)
    {
        if (!TrySymbol(http, markets, out var symbol, out var problem))
        {
            return problem;
        }

        if (!history.HasStore)
        {
            return NoStore();
        }

        try
        {
            var signals = await history.ReadLatestSignalsAsync(symbol, cancellationToken);
            return Results.Json(signals, ContractsJsonContext.Default.IReadOnlyListSignal);
        }
        catch (SignalHistoryUnavailableException ex)
        {
            return HistoryUnavailable(http, ex);
        }
    }

    private static async Task<IResult> ListSymbolsAsync(
        HttpContext http, ServedMarkets markets, SymbolFeeds feeds, SignalHistoryReader history, CancellationToken cancellationToken)
    {
        var entitlements = Entitlements.From(http.User);
        var symbols = markets.Symbols.Where(entitlements.AllowsSymbol).ToList();
        var latest = new long[symbols.Count];
        try
        {
            if (history.HasStore)
            {
                // Read at once, so the request waits one read timeout at most, not one per symbol.
                var reads = symbols.Select(s => history.GetLastSeqAsync(s, cancellationToken).AsTask()).ToArray();
                latest = await Task.WhenAll(reads);
            }
            else
            {
                for (var i = 0; i < symbols.Count; i++)
                {
                    latest[i] = Math.Max(feeds.Find(symbols[i])?.DeliveredSeq ?? 0, 0);
                }
            }
        }
        catch (SignalHistoryUnavailableException ex)
        {
            return HistoryUnavailable(http, ex);
        }

        var result = new List<SymbolInfo>(symbols.Count);
        for (var i = 0; i < symbols.Count; i++)
        {
            result.Add(new SymbolInfo(symbols[i], markets.TimeframeNames, latest[i]));
        }

        return Results.Json(result, ApiJsonContext.Default.ListSymbolInfo);
    }

    private static bool TrySymbol(HttpContext http, ServedMarkets markets, out string symbol, out IResult problem)
    {
        var normalized = HubArguments.TryNormalizeSymbol(http.Request.Query["symbol"].ToString(), markets, out var error);
        if (normalized is null)
        {
            symbol = "";
            problem = BadParameter("symbol", error!);
            return false;
        }

        var entitlements = Entitlements.From(http.User);
        if (!entitlements.AllowsSymbol(normalized))
        {
            symbol = "";
            problem = Results.Problem(
                detail: $"Your access token does not entitle you to {normalized}; it allows: {entitlements.Describe()}.",
                statusCode: StatusCodes.Status403Forbidden, title: "Forbidden");
            return false;
        }

        symbol = normalized;
        problem = Results.Empty;
        return true;
    }

    private static IResult BadParameter(string parameter, string detail) => Results.Problem(
        detail: detail,
        statusCode: StatusCodes.Status400BadRequest,
        title: $"Invalid parameter '{parameter}'",
        extensions: new Dictionary<string, object?> { ["parameter"] = parameter });

    private static IResult HistoryUnavailable(HttpContext http, SignalHistoryUnavailableException ex)
    {
        http.Response.Headers.RetryAfter = "5";
        return Results.Problem(detail: ex.Message, statusCode: StatusCodes.Status503ServiceUnavailable, title: "Signal history unavailable");
    }

    private static IResult NoStore() => Unavailable("This node has no signal store configured (Storage:Provider); signals cannot be read here.");

    private static IResult Unavailable(string detail) =>
        Results.Problem(detail: detail, statusCode: StatusCodes.Status503ServiceUnavailable, title: "Not available on this node");

    private static string Truncate(string text) => text.Length <= 32 ? text : text[..32] + "…";
}

/// <summary>One row of <c>/api/symbols</c>.</summary>
internal sealed record SymbolInfo(string Symbol, IReadOnlyList<string> Timeframes, long LatestSeq);

[JsonSourceGenerationOptions(System.Text.Json.JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(List<SymbolInfo>))]
internal sealed partial class ApiJsonContext : JsonSerializerContext;
