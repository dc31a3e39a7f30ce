using Microsoft.IdentityModel.Tokens;

namespace SignalStream.Hub.Auth;

/// <summary>Why an access token was refused; <see cref="TokenRejections.Label"/> is the metric label and the
/// <c>reason</c> of the 401 body.</summary>
internal enum TokenRejection : byte
{
    Missing,
    TooLarge,
    Malformed,
    BadAlgorithm,
    BadSignature,
    BadLifetime,
    Expired,
    ExpiresTooSoon,
    NotYetValid,
    BadIssuer,
    BadAudience,
    KeysUnavailable,
}

internal static class TokenRejections
{
    public static string Label(this TokenRejection reason) => reason switch
    {
        TokenRejection.Missing => "missing",
        TokenRejection.TooLarge => "too_large",
        TokenRejection.Malformed => "malformed",
        TokenRejection.BadAlgorithm => "bad_algorithm",
        TokenRejection.BadSignature => "bad_signature",
        TokenRejection.BadLifetime => "bad_lifetime",
        TokenRejection.Expired => "expired",
        TokenRejection.ExpiresTooSoon => "expires_too_soon",
        TokenRejection.NotYetValid => "not_yet_valid",
        TokenRejection.BadIssuer => "bad_issuer",
        TokenRejection.BadAudience => "bad_audience",
        TokenRejection.KeysUnavailable => "keys_unavailable",
        _ => "unknown",
    };

    /// <summary>
    /// The reason for an exception from the token handler. Order matters: IdentityModel's exceptions derive from one
    /// another (key-not-found is an invalid-signature exception). Anything unrecognised (IdentityModel throws
    /// <see cref="ArgumentException"/> for payloads it cannot read) is <see cref="TokenRejection.Malformed"/>: a
    /// token problem is never a server error.
    /// </summary>
    public static TokenRejection Classify(Exception? exception) => exception switch
    {
        TokenRejectedException rejected => rejected.Reason,
        AggregateException { InnerExceptions.Count: > 0 } aggregate => Classify(aggregate.InnerExceptions[0]),
        SecurityTokenInvalidAlgorithmException => TokenRejection.BadAlgorithm,
        SecurityTokenSignatureKeyNotFoundException or SecurityTokenInvalidSignatureException => TokenRejection.BadSignature,
        SecurityTokenExpiredException => TokenRejection.Expired,
        SecurityTokenNotYetValidException => TokenRejection.NotYetValid,
        SecurityTokenNoExpirationException => TokenRejection.Malformed,
        SecurityTokenInvalidLifetimeException => TokenRejection.BadLifetime,
        SecurityTokenInvalidIssuerException => TokenRejection.BadIssuer,
        SecurityTokenInvalidAudienceException => TokenRejection.BadAudience,
        // The discovery document or key set could not be fetched (IDX20803 wraps the HTTP failure).
        InvalidOperationException or HttpRequestException or TaskCanceledException => TokenRejection.KeysUnavailable,
        _ => TokenRejection.Malformed,
    };

    /// <summary>What the caller reads in the 401 (or 503) body: what is wrong and what to do. Never the token.</summary>
    public static string Detail(this TokenRejection reason, AuthOptions.JwtSettings settings) => reason switch
    {
        TokenRejection.Missing => "An access token is required: send 'Authorization: Bearer <token>' or, for WebSockets and SSE, the access_token query parameter.",
        TokenRejection.TooLarge => $"The access token is longer than {settings.MaxTokenLength} characters.",
        TokenRejection.Malformed => "The access token is not a signed compact JWT with readable claims ('exp' is required, as a number of seconds since 1970).",
        TokenRejection.BadAlgorithm => $"The access token must be signed with {string.Join(" or ", settings.EffectiveAlgorithms())} and carry no 'crit' header.",
        TokenRejection.BadSignature => "The access token's signature is not valid for any key this server trusts.",
        TokenRejection.BadLifetime => "The access token's 'exp' or 'nbf' is not a time this server can represent (at most year 9999).",
        TokenRejection.Expired => "The access token has expired; get a new one.",
        TokenRejection.ExpiresTooSoon => $"The access token expires within {settings.MinRemainingLifetime.TotalSeconds:0.#} s (clock skew included); get a new one.",
        TokenRejection.NotYetValid => "The access token is not valid yet ('nbf' is in the future).",
        TokenRejection.BadIssuer => "The access token was issued by an issuer this server does not trust.",
        TokenRejection.BadAudience => "The access token is for a different audience.",
        TokenRejection.KeysUnavailable => "The server could not fetch its token signing keys from the issuer; retry in a few seconds.",
        _ => "The access token was refused.",
    };
}

/// <summary>A refusal decided by our own checks (before or beside IdentityModel's), carrying its reason.</summary>
internal sealed class TokenRejectedException(TokenRejection reason) : SecurityTokenValidationException(reason.Label())
{
    public TokenRejection Reason { get; } = reason;
}
