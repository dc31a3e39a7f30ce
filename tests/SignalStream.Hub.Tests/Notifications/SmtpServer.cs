using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace SignalStream.Hub.Tests.Notifications;

/// <summary>
/// A real SMTP server on loopback: Debian's aiosmtpd (python3-aiosmtpd) running Fixtures/smtp_server.py, with
/// STARTTLS required (a certificate made here for 127.0.0.1) and AUTH required after it. Messages it accepts land as
/// files the test reads. Fails, never skips, when aiosmtpd is missing (test.sh installs it).
/// </summary>
internal sealed class SmtpServer : IAsyncDisposable
{
    private const string Python = "/usr/bin/python3";

    private readonly Process _process;
    private readonly string _folder;

    private SmtpServer(Process process, string folder, int port, string? certificatePath)
    {
        _process = process;
        _folder = folder;
        Port = port;
        CertificatePath = certificatePath;
    }

    public int Port { get; }

    /// <summary>The server's certificate (PEM), which the sink is told to trust; null for a server without TLS.</summary>
    public string? CertificatePath { get; }

    /// <summary>Starts the server; <paramref name="tls"/> false gives a server that offers no STARTTLS.</summary>
    public static async Task<SmtpServer> StartAsync(string? user, string? password, bool tls = true)
    {
        if (!File.Exists(Python) || !Directory.Exists("/usr/lib/python3/dist-packages/aiosmtpd"))
        {
            throw new InvalidOperationException("The email tests need Debian's aiosmtpd: apt-get install python3-aiosmtpd (test.sh installs it).");
        }

        var folder = Directory.CreateTempSubdirectory("signalstream-smtp-").FullName;
        var mail = Directory.CreateDirectory(Path.Combine(folder, "mail")).FullName;
        var port = LoopbackPort.Free();
        var args = new List<string> { Path.Combine(AppContext.BaseDirectory, "Notifications", "Fixtures", "smtp_server.py"), "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--out", mail };
        string? certificate = null;
        if (tls)
        {
            (certificate, var key) = WriteCertificate(folder);
            args.AddRange(["--cert", certificate, "--key", key]);
        }

        if (user is not null)
        {
            args.AddRange(["--user", user, "--password", password!]);
        }

        var start = new ProcessStartInfo(Python) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start)!;
        var server = new SmtpServer(process, folder, port, certificate);
        var ready = await process.StandardOutput.ReadLineAsync().WaitAsync(NotificationNode.Wait);
        if (ready != "READY")
        {
            var error = await process.StandardError.ReadToEndAsync().WaitAsync(NotificationNode.Wait);
            await server.DisposeAsync();
            throw new InvalidOperationException($"smtp_server.py did not start: {ready} {error}");
        }

        return server;
    }

    /// <summary>The accepted messages as raw text, oldest first.</summary>
    public IReadOnlyList<string> Messages =>
        [.. Directory.EnumerateFiles(Path.Combine(_folder, "mail"), "*.eml")
            .OrderBy(f => int.Parse(Path.GetFileNameWithoutExtension(f), System.Globalization.CultureInfo.InvariantCulture))
            .Select(File.ReadAllText)];

    public async Task<IReadOnlyList<string>> WaitForAsync(int count)
    {
        using var deadline = new CancellationTokenSource(NotificationNode.Wait);
        while (Messages.Count < count)
        {
            await Task.Delay(50, deadline.Token);
        }

        return Messages;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.StandardInput.Close();
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (TimeoutException)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
        NotificationNode.DeleteQuietly(_folder);
    }

    /// <summary>A self-signed certificate for 127.0.0.1 and localhost, as PEM files.</summary>
    private static (string Certificate, string Key) WriteCertificate(string folder)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var certificatePath = Path.Combine(folder, "server.crt");
        var keyPath = Path.Combine(folder, "server.key");
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return (certificatePath, keyPath);
    }
}
