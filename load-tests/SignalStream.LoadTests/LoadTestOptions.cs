using System.Globalization;

namespace SignalStream.LoadTests;

/// <summary>The harness's settings from <c>--name value</c> switches, validated with messages that say how to fix them.</summary>
internal sealed class LoadTestOptions
{
    public static readonly string[] AllScenarios = ["steady", "reconnect", "slow", "bell", "outage", "sweep", "idle"];
    public static readonly string[] AllTargets = LoadTests.Targets.All;

    public string[] Scenarios { get; set; } = ["steady", "reconnect", "slow"];

    public string[] Targets { get; set; } = [.. LoadTests.Targets.All];

    /// <summary>The SignalR hub protocol of SignalStream's clients: <c>json</c> or <c>messagepack</c> (the peers keep
    /// their own: JSON for the SignalR peer, Socket.IO's for Socket.IO).</summary>
    public string Protocol { get; set; } = "json";

    /// <summary>Concurrent subscriber connections.</summary>
    public int Clients { get; set; } = 1000;

    public int Symbols { get; set; } = 20;

    public int SymbolsPerClient { get; set; } = 1;

    /// <summary>Signals published per second over all symbols (each is delivered to every subscriber of its symbol).</summary>
    public double Rate { get; set; } = 100;

    /// <summary>Seconds of publishing per scenario.</summary>
    public double Duration { get; set; } = 15;

    /// <summary>Steady and reconnect: seconds of publishing at the run's rate before the measured window, which the
    /// window's latencies leave out (the fan-out path's first run after a node starts: JIT, first-use allocations).
    /// Delivery is still checked for them: gaps, duplicates and missing count the whole run.</summary>
    public double WarmUp { get; set; } = 2;

    /// <summary>Share of clients that stop reading in the slow-consumer scenario.</summary>
    public double SlowFraction { get; set; } = 0.05;

    /// <summary>Loopback source addresses 127.0.0.2 … (each gives ~28k ephemeral ports).</summary>
    public int SourceAddresses { get; set; } = 4;

    public int ConnectsInFlight { get; set; } = 200;

    /// <summary>Closing bell: symbols × the four timeframes 1m, 5m, 15m, 1h = streams closing at one instant.</summary>
    public int BellSymbols { get; set; } = 500;

    /// <summary>Clients subscribed to every stream's candles in the closing bell.</summary>
    public int BellFanOut { get; set; } = 2;

    /// <summary>Closing bell: <c>bundled</c> (the repository's models), <c>none</c> (the engine runs without models, to
    /// separate inference from the rest of the path) or a models folder (another build's models, for a before/after).</summary>
    public string BellModels { get; set; } = "bundled";

    /// <summary>Closing bell: measured bells in one run, one after another (each row's figures, and their median p99).</summary>
    public int BellRepeats { get; set; } = 1;

    /// <summary>Redis outage: the engine node's simulated market speed (600: a 1m candle per symbol every 0.1 s).</summary>
    public double EngineSpeed { get; set; } = 600;

    /// <summary>Capacity sweep: the ladder of publish rates (signals per second over all symbols), climbed in order.</summary>
    public double[] SweepRates { get; set; } = [10, 20, 40, 60, 80, 100, 120, 160, 200, 240, 320];

    /// <summary>Capacity sweep: a step counts toward capacity only when its p99 (ms) is at or below this bound.</summary>
    public double P99BoundMs { get; set; } = 50;

    /// <summary>Capacity sweep: extra steps after the climb stops, each halving the bracket between the capacity step and
    /// the first rate above it that missed.</summary>
    public int SweepRefine { get; set; } = 2;

    /// <summary>Capacity sweep: at most this many repeats of the capacity step's rate, each confirming it or moving it
    /// down to the next rate.</summary>
    public int SweepConfirm { get; set; } = 2;

    public string Output { get; set; } = Path.Combine("load-tests", "results", DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));

    public string HubDll { get; set; } = "";

    /// <summary>The Socket.IO peer's folder (<c>server.js</c>, <c>node_modules</c>).</summary>
    public string PeerFolder { get; set; } = "";

    /// <summary>The SignalR peer's built entry assembly.</summary>
    public string PeerSignalRDll { get; set; } = "";

    public string ChannelPrefix { get; set; } = "signalstream";

    /// <summary>
    /// Environment variables for the server under test (SignalStream nodes and the SignalR peer), after the harness's own:
    /// runtime settings such as <c>DOTNET_gcForceCompact</c> compared without a rebuild.
    /// </summary>
    public Dictionary<string, string> ServerEnvironment { get; } = new(StringComparer.Ordinal);

    /// <summary>Hard limit on the whole run; it stops by itself past it.</summary>
    public double MaxMinutes { get; set; } = 30;

    /// <summary>CI smoke: exit code 1 when anything was not delivered, or delivered with a gap or twice.</summary>
    public bool Smoke { get; set; }

    public static (LoadTestOptions? Options, List<string> Errors) Parse(string[] args, string repositoryRoot)
    {
        var options = new LoadTestOptions
        {
            HubDll = Path.Combine(repositoryRoot, "src", "Hub", "bin", "Release", "net10.0", "SignalStream.Hub.dll"),
            PeerFolder = Path.Combine(repositoryRoot, "load-tests", "peer-socketio"),
            PeerSignalRDll = Path.Combine(repositoryRoot, "load-tests", "peer-signalr", "bin", "Release", "net10.0", "SignalStream.PeerSignalR.dll"),
        };
        var errors = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            if (name == "--smoke")
            {
                options.Smoke = true;
                continue;
            }

            if (i + 1 >= args.Length)
            {
                errors.Add($"{name} needs a value (for example {name} 10).");
                break;
            }

            var value = args[++i];
            switch (name)
            {
                case "--scenarios": options.Scenarios = List(value, AllScenarios, name, errors); break;
                case "--targets": options.Targets = List(value, AllTargets, name, errors); break;
                case "--clients": options.Clients = Int(value, name, 1, 100_000, errors); break;
                case "--symbols": options.Symbols = Int(value, name, 1, 5000, errors); break;
                case "--symbols-per-client": options.SymbolsPerClient = Int(value, name, 1, 50, errors); break;
                case "--rate": options.Rate = Double(value, name, 0.1, 1_000_000, errors); break;
                case "--duration": options.Duration = Double(value, name, 1, 3600, errors); break;
                case "--warm-up": options.WarmUp = Double(value, name, 0, 600, errors); break;
                case "--slow-fraction": options.SlowFraction = Double(value, name, 0, 0.5, errors); break;
                case "--sources": options.SourceAddresses = Int(value, name, 1, 250, errors); break;
                case "--connects-in-flight": options.ConnectsInFlight = Int(value, name, 1, 4096, errors); break;
                case "--bell-symbols": options.BellSymbols = Int(value, name, 1, 5000, errors); break;
                case "--bell-fanout": options.BellFanOut = Int(value, name, 1, 100, errors); break;
                case "--bell-models":
                    options.BellModels = value is "bundled" or "none" || Directory.Exists(value)
                        ? value
                        : Fail(errors, $"--bell-models must be 'bundled', 'none' or a folder of model manifests; '{value}' is none of them.", "bundled");
                    break;
                case "--bell-repeats": options.BellRepeats = Int(value, name, 1, 20, errors); break;
                case "--protocol":
                    options.Protocol = value is "json" or "messagepack" ? value : Fail(errors, $"--protocol must be 'json' or 'messagepack', not '{value}'.", "json");
                    break;
                case "--engine-speed": options.EngineSpeed = Double(value, name, 1, 10_000, errors); break;
                case "--sweep-rates": options.SweepRates = Ladder(value, name, errors); break;
                case "--sweep-confirm": options.SweepConfirm = Int(value, name, 0, 8, errors); break;
                case "--sweep-refine": options.SweepRefine = Int(value, name, 0, 8, errors); break;
                case "--p99-bound-ms": options.P99BoundMs = Double(value, name, 0.1, 60_000, errors); break;
                case "--out": options.Output = value; break;
                case "--hub-dll": options.HubDll = value; break;
                case "--peer": options.PeerFolder = value; break;
                case "--peer-signalr-dll": options.PeerSignalRDll = value; break;
                case "--max-minutes": options.MaxMinutes = Double(value, name, 0.5, 240, errors); break;
                case "--server-env": EnvironmentPairs(value, name, options.ServerEnvironment, errors); break;
                default:
                    errors.Add($"Unknown option {name}. Options: --scenarios, --targets, --clients, --symbols, --symbols-per-client, --rate, " +
                        "--duration, --warm-up, --slow-fraction, --sources, --connects-in-flight, --bell-symbols, --bell-fanout, --bell-models, --bell-repeats, --engine-speed, --protocol, --sweep-rates, --sweep-refine, --sweep-confirm, --p99-bound-ms, --out, --hub-dll, --peer, " +
                        "--max-minutes, --server-env, --smoke.");
                    break;
            }
        }

        if (options.SymbolsPerClient > options.Symbols)
        {
            errors.Add($"--symbols-per-client ({options.SymbolsPerClient}) cannot exceed --symbols ({options.Symbols}).");
        }

        if (options.Targets.Contains(LoadTests.Targets.SignalStream) && !File.Exists(options.HubDll))
        {
            errors.Add($"The SignalStream server was not found at {options.HubDll}: build it with 'dotnet build src/Hub -c Release', pass --hub-dll, or leave signalstream out of --targets.");
        }

        if (options.Targets.Contains(LoadTests.Targets.SignalR) && !File.Exists(options.PeerSignalRDll))
        {
            errors.Add($"The SignalR peer was not found at {options.PeerSignalRDll}: build it with 'dotnet build load-tests/peer-signalr -c Release', pass --peer-signalr-dll, or leave signalr out of --targets.");
        }

        if (options.Targets.Contains(LoadTests.Targets.SocketIo) && !Directory.Exists(Path.Combine(options.PeerFolder, "node_modules", "socket.io")))
        {
            errors.Add($"The Socket.IO peer's packages are missing: run 'npm ci' in {options.PeerFolder}, or leave socketio out of --targets.");
        }

        return (errors.Count == 0 ? options : null, errors);
    }

    /// <summary>The symbols of the publish scenarios: LT0001USDT, LT0002USDT, …</summary>
    public IReadOnlyList<string> SymbolNames() => Enumerable.Range(1, Symbols).Select(i => $"LT{i:D4}USDT").ToArray();

    private static string Fail(List<string> errors, string error, string fallback)
    {
        errors.Add(error);
        return fallback;
    }

    private static string[] List(string value, string[] allowed, string name, List<string> errors)
    {
        var items = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var item in items.Where(i => !allowed.Contains(i)))
        {
            errors.Add($"{name}: '{item}' is not one of {string.Join(", ", allowed)}.");
        }

        return items;
    }

    /// <summary><c>KEY=VALUE,KEY=VALUE</c>: names of letters, digits and underscores (the variables' form).</summary>
    private static void EnvironmentPairs(string value, string name, Dictionary<string, string> into, List<string> errors)
    {
        foreach (var item in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = item.IndexOf('=', StringComparison.Ordinal);
            var key = equals > 0 ? item[..equals] : "";
            if (key.Length == 0 || !key.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
            {
                errors.Add($"{name}: '{item}' is not KEY=VALUE with a name of letters, digits and underscores (for example {name} DOTNET_gcForceCompact=1).");
                continue;
            }

            into[key] = item[(equals + 1)..];
        }
    }

    /// <summary>A sweep's ladder: positive rates, strictly increasing (the sweep climbs and stops at the first
    /// saturated step, so an unordered ladder would skip rates silently).</summary>
    internal static double[] Ladder(string value, string name, List<string> errors)
    {
        var items = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var rates = new double[items.Length];
        for (var i = 0; i < items.Length; i++)
        {
            if (!double.TryParse(items[i], NumberStyles.Float, CultureInfo.InvariantCulture, out rates[i]) || rates[i] < 0.1 || rates[i] > 1_000_000)
            {
                errors.Add($"{name}: '{items[i]}' is not a rate from 0.1 to 1000000 signals per second (for example {name} 40,80,120,160).");
                return [];
            }

            if (i > 0 && rates[i] <= rates[i - 1])
            {
                errors.Add($"{name} must climb: {rates[i]} comes after {rates[i - 1]}; list the rates in increasing order, each once (for example {name} 40,80,120,160).");
                return [];
            }
        }

        if (rates.Length is 0 or > 50)
        {
            errors.Add($"{name} needs from 1 to 50 rates, comma separated (for example {name} 40,80,120,160), not '{value}'.");
            return [];
        }

        return rates;
    }

    private static int Int(string value, string name, int min, int max, List<string> errors)
    {
        if (int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var result) && result >= min && result <= max)
        {
            return result;
        }

        errors.Add($"{name} must be a whole number from {min} to {max}, not '{value}'.");
        return min;
    }

    private static double Double(string value, string name, double min, double max, List<string> errors)
    {
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var result) && result >= min && result <= max)
        {
            return result;
        }

        errors.Add($"{name} must be a number from {min} to {max}, not '{value}'.");
        return min;
    }
}
