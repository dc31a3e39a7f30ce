using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using SignalStream.Contracts;
using SignalStream.Hub.Hubs;

namespace SignalStream.Hub.Auth;

/// <summary>
/// Our side of JwtBearer: where the token is read from, the checks made before any key is used, the session end a
/// connection is closed at, and the problem+json refusal with its reason (counted in
/// <c>signalstream_hub_auth_failures_total{reason}</c> and logged as event 5400, never with the token).
/// </summary>
internal sealed partial class JwtEvents(
    IOptions<AuthOptions> options,
    HubMetrics metrics,
    TimeProvider time,
    ILogger<JwtEvents> logger) : JwtBearerEvents
{
    private const string QueryParameter = "access_token";

    private readonly AuthOptions.JwtSettings _settings = options.Value.Jwt;

    /// <summary>
    /// The token comes from <c>Authorization: Bearer</c> or, on the hub path only, from <c>?access_token=</c> (browsers
    /// cannot set headers on WebSockets and SSE; SignalR clients send it there). Before IdentityModel sees it: the length
    /// bound, a compact JWS (not JWE), an <c>alg</c> from the configured list (so <c>none</c> and HS256-signed-with-the-
    /// public-key never reach a key), and no <c>crit</c>.
    /// </summary>
    public override Task MessageReceived(MessageReceivedContext context)
    {
        var request = context.Request;
        string? token = null;
        var header = request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            token = header["Bearer ".Length..].Trim();
        }
        else if (request.Path.StartsWithSegments(HubNames.Path) && request.Query.TryGetValue(QueryParameter, out var query))
        {
            token = query.ToString();
        }

        if (string.IsNullOrEmpty(token))
        {
            context.NoResult();
            return Task.CompletedTask;
        }

        if (Precheck(token) is { } reason)
        {
            Refused(context.HttpContext, reason);
            context.Fail(new TokenRejectedException(reason));
            return Task.CompletedTask;
        }

        context.Token = token;
        return Task.CompletedTask;
    }

    /// <summary>Adds the session end (exp + skew, Unix ms) the hub closes the connection at; a claim of that name
    /// in the token itself is dropped first, so a client cannot choose it.</summary>
    public override Task TokenValidated(TokenValidatedContext context)
    {
        if (context.SecurityToken is not JsonWebToken token || context.Principal?.Identity is not ClaimsIdentity identity)
        {
            context.Fail(new TokenRejectedException(TokenRejection.Malformed));
            return Task.CompletedTask;
        }

        // The lifetime validator already accepted it; this reads the same numbers again for the session end.
        var rejection = TokenLifetime.Check(token, time.GetUtcNow().ToUnixTimeMilliseconds(), _settings, out var sessionEndMs);
        if (rejection is { } reason)
        {
            Refused(context.HttpContext, reason);
            context.Fail(new TokenRejectedException(reason));
            return Task.CompletedTask;
        }

        foreach (var forged in identity.FindAll(Entitlements.SessionEndClaim).ToList())
        {
            identity.TryRemoveClaim(forged);
        }

        identity.AddClaim(new Claim(Entitlements.SessionEndClaim, sessionEndMs.ToString(CultureInfo.InvariantCulture)));
        return Task.CompletedTask;
    }

    public override Task AuthenticationFailed(AuthenticationFailedContext context)
    {
        var reason = TokenRejections.Classify(context.Exception);
        Refused(context.HttpContext, reason);
        // Always settle the result: an exception left unhandled here (a key fetch that failed) would be a 500.
        context.Fail(new TokenRejectedException(reason));
        return Task.CompletedTask;
    }

    /// <summary>401 problem+json with the reason (503 with Retry-After when the issuer's keys could not be fetched).</summary>
    public override async Task Challenge(JwtBearerChallengeContext context)
    {
        context.HandleResponse();
        var http = context.HttpContext;
        TokenRejection reason;
        if (context.AuthenticateFailure is null)
        {
            reason = TokenRejection.Missing;
            Refused(http, reason);
        }
        else
        {
            reason = TokenRejections.Classify(context.AuthenticateFailure);
        }

        var detail = reason.Detail(_settings);
        var status = reason == TokenRejection.KeysUnavailable ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status401Unauthorized;
        http.Response.StatusCode = status;
        if (reason == TokenRejection.KeysUnavailable)
        {
            http.Response.Headers.RetryAfter = "5";
        }

        http.Response.Headers.WWWAuthenticate = reason == TokenRejection.Missing
            ? "Bearer"
            : $"Bearer error=\"invalid_token\", error_description=\"{detail.Replace('"', '\'')}\"";
        await Results.Problem(
            detail: detail,
            statusCode: status,
            title: status == StatusCodes.Status401Unauthorized ? "Unauthorized" : "Token keys unavailable",
            extensions: new Dictionary<string, object?> { ["reason"] = reason.Label() }).ExecuteAsync(http);
    }

    private TokenRejection? Precheck(string token)
    {
        if (token.Length > _settings.MaxTokenLength)
        {
            return TokenRejection.TooLarge;
        }

        JsonWebToken parsed;
        try
        {
            parsed = new JsonWebToken(token);
        }
        catch (ArgumentException)
        {
            // SecurityTokenMalformedException is an ArgumentException too.
            return TokenRejection.Malformed;
        }

        if (parsed.IsEncrypted)
        {
            return TokenRejection.Malformed;
        }

        if (!_settings.EffectiveAlgorithms().Contains(parsed.Alg, StringComparer.Ordinal) || parsed.TryGetHeaderValue<object>("crit", out _))
        {
            return TokenRejection.BadAlgorithm;
        }

        return null;
    }

    private void Refused(HttpContext http, TokenRejection reason)
    {
        var label = reason.Label();
        metrics.AuthFailed(label);
        Log.Rejected(logger, label, http.Request.Path);
    }

    private static partial class Log
    {
        [LoggerMessage(5400, LogLevel.Information, "Rejected an access token ({Reason}) on {Path}")]
        public static partial void Rejected(ILogger logger, string reason, PathString path);
    }
}
