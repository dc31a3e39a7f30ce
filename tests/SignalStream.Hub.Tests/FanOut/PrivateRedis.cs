using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace SignalStream.Hub.Tests.FanOut;

/// <summary>
/// A redis-server of the test's own, on a free loopback port, for settings the shared one must not have
/// (<c>requirepass</c>, ACL users, TLS). Stopped by its own process id.
/// </summary>
internal sealed class PrivateRedis : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _directory;

    private PrivateRedis(Process process, string directory, int port, string? certificateFile)
    {
        _process = process;
        _directory = directory;
        Port = port;
        CertificateFile = certificateFile;
    }

    public int Port { get; }

    /// <summary>The server's self-signed certificate (PEM), when it serves TLS: the client's trusted issuer.</summary>
    public string? CertificateFile { get; }

    /// <param name="password">The default user's password (<c>requirepass</c>).</param>
    /// <param name="aclUsers">ACL rules, one user each (<c>user NAME on &gt;PASSWORD …</c>, as in an ACL file).</param>
    /// <param name="tls">Serve TLS only, with a certificate for 127.0.0.1 made for this server.</param>
    public static async Task<PrivateRedis> StartAsync(string? password = null, IReadOnlyList<string>? aclUsers = null, bool tls = false)
    {
        var directory = Directory.CreateTempSubdirectory("signalstream-redis-").FullName;
        var port = LoopbackPort.Free();
        var config = new List<string> { "bind 127.0.0.1", "save \"\"", "appendonly no", $"dir {directory}" };
        if (password is not null)
        {
            config.Add($"requirepass {password}");
        }

        string? certificate = null;
        if (tls)
        {
            certificate = Path.Combine(directory, "redis.crt");
            var key = Path.Combine(directory, "redis.key");
            WriteSelfSignedCertificate(certificate, key);
            config.AddRange(["port 0", $"tls-port {port}", $"tls-cert-file {certificate}", $"tls-key-file {key}",
                $"tls-ca-cert-file {certificate}", "tls-auth-clients no"]);
        }
        else
        {
            config.Add($"port {port}");
        }

        if (aclUsers is { Count: > 0 })
        {
            var aclFile = Path.Combine(directory, "users.acl");
            await File.WriteAllLinesAsync(aclFile, aclUsers);
            config.Add($"aclfile {aclFile}");
        }

        var configFile = Path.Combine(directory, "redis.conf");
        await File.WriteAllLinesAsync(configFile, config);
        var process = Process.Start(new ProcessStartInfo("redis-server", configFile)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        }) ?? throw new InvalidOperationException("redis-server did not start.");
        _ = process.StandardOutput.ReadToEndAsync();
        _ = process.StandardError.ReadToEndAsync();
        var redis = new PrivateRedis(process, directory, port, certificate);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!await AcceptsAsync(port))
        {
            if (process.HasExited || DateTime.UtcNow > deadline)
            {
                await redis.DisposeAsync();
                throw new InvalidOperationException($"redis-server on port {port} did not start (exit: {(process.HasExited ? process.ExitCode : -1)}).");
            }

            await Task.Delay(50);
        }

        return redis;
    }

    private static async Task<bool> AcceptsAsync(int port)
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, port).WaitAsync(TimeSpan.FromSeconds(2));
            return true;
        }
        catch (Exception ex) when (ex is SocketException or TimeoutException)
        {
            return false;
        }
    }

    private static void WriteSelfSignedCertificate(string certificateFile, string keyFile)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        File.WriteAllText(certificateFile, certificate.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A temp folder left behind is harmless.
        }
    }
}
