using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;
using SignalStream.EventStore;
using SignalStream.Hub.Auth;
using SignalStream.Hub.Notifications.Internal;

namespace SignalStream.Hub.Notifications;

/// <summary>
/// <c>GET /api/notifications</c> (the sinks and what each holds) and <c>GET /api/notifications/{sink}/dead-letters</c>
/// (its newest dead letters, from the store). Read-only; behind the same authentication and rate limit as the rest of
/// <c>/api</c>.
/// </summary>
internal static class NotificationsApi
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 500;

    public static void MapSignalStreamNotifications(this WebApplication app, bool requireAuth)
    {
        var api = app.MapGroup("/api/notifications");
        if (requireAuth)
        {
            api.RequireAuthorization();
        }

        if (app.Services.GetRequiredService<IOptions<Api.ApiOptions>>().Value.RateLimit.Enabled)
        {
            // The same per-client limit as the rest of the REST surface (docs/hub.md, "Rate limit").
            api.RequireRateLimiting(Api.ApiRateLimiting.PolicyName);
        }

        api.MapGet("", ListSinks);
        api.MapGet("/{sink}/dead-letters", ReadDeadLettersAsync);
    }

    private static IResult ListSinks(HttpContext http, IOptions<NotificationsOptions> options)
    {
        var running = http.RequestServices.GetService<NotificationService>()?.Sinks.ToDictionary(s => s.Settings.Name, StringComparer.OrdinalIgnoreCase);
        var sinks = options.Value.Sinks
            .OrderBy(s => s.Key, StringComparer.Ordinal)
            .Select(s => running is not null && running.TryGetValue(s.Key, out var runner)
                ? new SinkStatus(s.Key, s.Value.Type, s.Value.Enabled, true, runner.PendingCount, runner.PendingBytes)
                : new SinkStatus(s.Key, s.Value.Type, s.Value.Enabled, false, null, null))
            .ToList();
        return Results.Json(sinks, NotificationsApiJsonContext.Default.ListSinkStatus);
    }

    private static async Task<IResult> ReadDeadLettersAsync(string sink, HttpContext http, IOptions<NotificationsOptions> options, CancellationToken cancellationToken)
    {
        if (!options.Value.Sinks.ContainsKey(sink))
        {
            return Results.Problem(
                detail: $"No sink '{Truncate(sink)}' is configured; GET /api/notifications lists them.",
                statusCode: StatusCodes.Status404NotFound,
                title: "Unknown sink");
        }

        var limit = DefaultLimit;
        if (http.Request.Query.TryGetValue("limit", out var text)
            && (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > MaxLimit))
        {
            return Results.Problem(
                detail: $"limit '{Truncate(text.ToString())}' must be a whole number from 1 to {MaxLimit}.",
                statusCode: StatusCodes.Status400BadRequest,
                title: "Invalid parameter 'limit'",
                extensions: new Dictionary<string, object?> { ["parameter"] = "limit" });
        }

        var store = http.RequestServices.GetRequiredService<IEventStore>();
        var stored = await store.ReadStreamBackwardAsync(NotificationRecords.DeadLetters(sink.ToLowerInvariant()), limit, cancellationToken);
        var entitlements = Entitlements.From(http.User);
        var letters = new List<NotificationRecord>(stored.Count);
        foreach (var e in stored)
        {
            if (NotificationRecords.TryDeserialize(e, out var record) && entitlements.AllowsSymbol(record.Symbol))
            {
                letters.Add(record);
            }
        }

        return Results.Json(letters, NotificationJsonContext.Default.IReadOnlyListNotificationRecord);
    }

    private static string Truncate(string text) => text.Length <= 64 ? text : text[..64] + "…";
}

/// <summary>One configured sink, as <c>GET /api/notifications</c> lists it (secrets are never part of it).</summary>
/// <param name="Running">True on a node that runs the sink (one that runs the engine).</param>
/// <param name="Pending">Notifications it holds in memory (null where it does not run).</param>
internal sealed record SinkStatus(string Name, string Type, bool Enabled, bool Running, long? Pending, long? PendingBytes);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(List<SinkStatus>))]
internal sealed partial class NotificationsApiJsonContext : JsonSerializerContext;
