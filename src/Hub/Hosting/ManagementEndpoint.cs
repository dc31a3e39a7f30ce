using SignalStream.Hub.Auth;
using SignalStream.Hub.MetricsExporter;

namespace SignalStream.Hub.Hosting;

/// <summary>
/// Where <c>/metrics</c> and <c>/health/*</c> are served (<c>Management:Urls</c>). Set, or with <c>Auth:Mode=jwt</c>
/// (default <see cref="DefaultJwtUrls"/>), they get their own Kestrel addresses and nothing else is served there; the
/// public addresses (<c>urls</c>) then answer 404 for them. Unset with <c>Auth:Mode=none</c>: they stay on the public
/// addresses, as before. Prometheus and load-balancer probes read the management address, which is never exposed
/// to clients (docs/operations.md).
/// </summary>
/// <remarks>
/// Requests are told apart by the local port the connection arrived on, not by the Host header (which the client
/// writes), so every management URL needs a fixed port of its own.
/// </remarks>
internal sealed class ManagementEndpoint
{
    public const string SectionName = "Management";

    /// <summary>Loopback only: a node with tokens never exposes its metrics and health unless told where to.</summary>
    public const string DefaultJwtUrls = "http://localhost:9180";

    private readonly HashSet<int> _ports;
    private readonly string _metricsPath;

    private ManagementEndpoint(string urls, HashSet<int> ports, string metricsPath)
    {
        Urls = urls;
        _ports = ports;
        _metricsPath = metricsPath;
    }

    /// <summary>The management URLs, or empty when management shares the public addresses.</summary>
    public string Urls { get; }

    public bool IsSeparate => _ports.Count > 0;

    /// <summary>Reads <c>Management:Urls</c>; throws, naming the key, when it cannot work.</summary>
    public static ManagementEndpoint Resolve(IConfiguration configuration, string publicUrls)
    {
        var metricsPath = MetricsExporterOptions.PathIn(configuration);
        var urls = configuration[$"{SectionName}:Urls"]?.Trim() ?? "";
        if (urls.Length == 0)
        {
            var auth = configuration.GetSection(AuthOptions.SectionName).Get<AuthOptions>() ?? new AuthOptions();
            if (!auth.IsJwt)
            {
                return new ManagementEndpoint("", [], metricsPath);
            }

            urls = DefaultJwtUrls;
        }

        if (configuration.GetSection("Kestrel:Endpoints").GetChildren().Any())
        {
            throw new InvalidOperationException(
                "Management:Urls (set, or implied by Auth:Mode=jwt) needs the public addresses in 'urls', not Kestrel:Endpoints, "
                + "so that the node can listen on both; move the endpoints to 'urls'.");
        }

        var publicPorts = new HashSet<int>();
        foreach (var url in Split(publicUrls))
        {
            if (TryPort(url, out var port) && port > 0)
            {
                publicPorts.Add(port);
            }
        }

        var ports = new HashSet<int>();
        foreach (var url in Split(urls))
        {
            if (!TryPort(url, out var port) || port <= 0)
            {
                throw new InvalidOperationException(
                    $"Management:Urls has '{url}'; use http://host:port with a fixed port (e.g. http://+:9180), ';' between several.");
            }

            if (publicPorts.Contains(port))
            {
                throw new InvalidOperationException(
                    $"Management:Urls uses port {port}, which 'urls' serves to clients too; give the management endpoint a port of its own.");
            }

            ports.Add(port);
        }

        return new ManagementEndpoint(string.Join(';', Split(urls)), ports, metricsPath);
    }

    /// <summary>First in the pipeline: the management port serves only management paths, the public ports none.</summary>
    public void UseGate(WebApplication app)
    {
        if (!IsSeparate)
        {
            return;
        }

        app.Use((http, next) =>
        {
            if (_ports.Contains(http.Connection.LocalPort) != IsManagementPath(http.Request.Path))
            {
                http.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            }

            return next(http);
        });
    }

    private bool IsManagementPath(PathString path) =>
        path.StartsWithSegments("/health", StringComparison.OrdinalIgnoreCase)
        || path.StartsWithSegments(_metricsPath, StringComparison.OrdinalIgnoreCase);

    private static IEnumerable<string> Split(string urls) =>
        urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static bool TryPort(string url, out int port)
    {
        port = 0;
        try
        {
            var address = BindingAddress.Parse(url);
            if (address.IsUnixPipe || address.IsNamedPipe || (address.Scheme != "http" && address.Scheme != "https"))
            {
                return false;
            }

            port = address.Port;
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
