using System.Globalization;
using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using SignalStream.Contracts;
using SignalStream.Hub.Hubs;

namespace SignalStream.Hub.Auth;

/// <summary>
/// The <c>jwt</c> authentication scheme: reads the token from <c>Authorization: Bearer</c>, or — on the hub path only,
/// where browsers cannot set headers on WebSockets and SSE — from the <c>access_token</c> query parameter, and turns a
/// valid one into a <see cref="ClaimsPrincipal"/> carrying <c>sub</c>, <c>exp</c>, <c>symbols</c> and
/// <c>max_subscriptions</c>.
/// </summary>
internal sealed partial class JwtAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    JwtValidator validator,
    HubMetrics metrics) : AuthenticationHandler<AuthenticationSchemeOptions>(options, loggerFactory, encoder)
{
    public const string SchemeName = "SignalStreamJwt";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? token = null;
        var header = Request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            token = header["Bearer ".Length..].Trim();
        }
        else if (Request.Path.StartsWithSegments(HubNames.Path) && Request.Query.TryGetValue("access_token", out var query))
        {
            token = query.ToString();
        }

        if (string.IsNullOrEmpty(token))
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var result = validator.Validate(token);
        if (!result.IsValid)
        {
            var reason = JwtValidator.ReasonName(result.Failure);
            metrics.AuthFailed(reason);
            Log.Rejected(Logger, reason, Request.Path);
            return Task.FromResult(AuthenticateResult.Fail(result.Message!));
        }

        var claims = result.Claims!;
        var identity = new ClaimsIdentity(SchemeName);
        if (claims.Subject is not null)
        {
            identity.AddClaim(new Claim(ClaimTypes.NameIdentifier, claims.Subject));
        }

        identity.AddClaim(new Claim(Entitlements.ExpiresClaim, claims.ExpiresAt.ToString(CultureInfo.InvariantCulture)));
        foreach (var symbol in claims.Symbols)
        {
            identity.AddClaim(new Claim(Entitlements.SymbolsClaim, symbol));
        }

        if (claims.MaxSubscriptions is int max)
        {
            identity.AddClaim(new Claim(Entitlements.MaxSubscriptionsClaim, max.ToString(CultureInfo.InvariantCulture)));
        }

        var properties = new AuthenticationProperties { ExpiresUtc = DateTimeOffset.FromUnixTimeSeconds(claims.ExpiresAt) };
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), properties, SchemeName)));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync();
        var detail = result.Failure?.Message
            ?? "An access token is required: send 'Authorization: Bearer <token>' or, for WebSockets and SSE, the access_token query parameter.";
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = result.Failure is null
            ? "Bearer"
            : $"Bearer error=\"invalid_token\", error_description=\"{detail.Replace('"', '\'')}\"";
        await Results.Problem(detail: detail, statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized").ExecuteAsync(Context);
    }

    private static partial class Log
    {
        [LoggerMessage(5400, LogLevel.Information, "Rejected an access token ({Reason}) on {Path}")]
        public static partial void Rejected(ILogger logger, string reason, PathString path);
    }
}
