using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

namespace SignalStream.Hub.Notifications.Internal.Senders;

/// <summary>
/// <c>email</c>: one plain-text mail per notification through MailKit, over STARTTLS (required: a server that does
/// not offer it is an error, never a fallback to clear text) or implicit TLS, signing in when a user is configured.
/// The Message-Id is derived from the delivery id, so a retry of a mail the server took but did not acknowledge is
/// recognisable as the same message.
/// </summary>
internal sealed class EmailSender(SinkSettings settings) : INotificationSender
{
    private readonly SmtpSettings _smtp = settings.Smtp!;

    public RenderedNotification Render(Notification notification) =>
        new(Encoding.UTF8.GetBytes(MessageText.PlainText(notification)), MessageText.Headline(notification));

    public async ValueTask<SendResult> SendAsync(RenderedNotification rendered, Guid deliveryId, CancellationToken cancellationToken)
    {
        using var message = new MimeMessage
        {
            Subject = string.IsNullOrEmpty(_smtp.SubjectPrefix) ? rendered.Subject : _smtp.SubjectPrefix + " " + rendered.Subject,
            MessageId = $"{deliveryId:D}@signalstream",
            Body = new TextPart("plain") { Text = Encoding.UTF8.GetString(rendered.Body) },
        };
        message.From.Add(_smtp.From);
        message.To.AddRange(_smtp.To);
        message.Headers.Add(WebhookSignature.DeliveryHeader, deliveryId.ToString("D"));

        using var client = new SmtpClient { Timeout = (int)Math.Min(int.MaxValue, settings.Timeout.TotalMilliseconds) };
        if (_smtp.TrustedCertificate is not null)
        {
            client.ServerCertificateValidationCallback = ValidateWithTrustedCertificate;
        }

        try
        {
            await client.ConnectAsync(_smtp.Host, _smtp.Port, _smtp.ImplicitTls ? SecureSocketOptions.SslOnConnect : SecureSocketOptions.StartTls, cancellationToken).ConfigureAwait(false);
            if (_smtp.Username is not null)
            {
                await client.AuthenticateAsync(_smtp.Username, _smtp.Password ?? "", cancellationToken).ConfigureAwait(false);
            }

            await client.SendAsync(message, cancellationToken).ConfigureAwait(false);
            await client.DisconnectAsync(quit: true, cancellationToken).ConfigureAwait(false);
            return SendResult.Delivered;
        }
        catch (SmtpCommandException ex)
        {
            // SMTP reply codes: 4xx is "try again later", 5xx is final (unknown mailbox, message refused).
            var code = (int)ex.StatusCode;
            return new SendResult(code is >= 400 and < 500 ? SendStatus.Transient : SendStatus.Permanent, Scrub($"SMTP {code} ({ex.ErrorCode}): {ex.Message}"));
        }
        catch (AuthenticationException ex)
        {
            return new SendResult(SendStatus.Permanent, Scrub($"SMTP sign-in refused: {ex.Message} (check Smtp:Username and Smtp:Password)"));
        }
        catch (NotSupportedException ex)
        {
            // MailKit: the server does not offer STARTTLS (or the AUTH mechanism); the configuration must change.
            return new SendResult(SendStatus.Permanent, Scrub($"the SMTP server cannot do what the sink requires: {ex.Message}"));
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested
            && ex is SslHandshakeException or SmtpProtocolException or ServiceNotConnectedException or SocketException or IOException)
        {
            return new SendResult(SendStatus.Transient, Scrub($"SMTP {_smtp.Host}:{_smtp.Port}: {ex.GetType().Name}: {ex.Message}"));
        }
    }

    // The sender owns its settings (resolved for it alone), so the trusted certificate's handle goes with it.
    public void Dispose() => _smtp.TrustedCertificate?.Dispose();

    /// <summary>Trusts the configured certificate (a private CA, or the server's own) besides the system's roots.</summary>
    private bool ValidateWithTrustedCertificate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (errors == SslPolicyErrors.None)
        {
            return true;
        }

        if (certificate is null || (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
        {
            return false;
        }

        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.Add(_smtp.TrustedCertificate!);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var presented = new X509Certificate2(certificate);
        return custom.Build(presented);
    }

    private string Scrub(string text) => _smtp.Password is { Length: >= 4 } password ? text.Replace(password, "***", StringComparison.Ordinal) : text;
}
