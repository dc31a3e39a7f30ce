using System.Text.Json;

namespace SignalStream.LoadTests.Servers;

/// <summary>
/// The environment a SignalStream node's launch profile (<c>src/Hub/Properties/launchSettings.json</c>) gives it: the
/// runtime settings the runtime reads from the environment only (the gen0 budget), so the harness measures the node as
/// <c>dotnet run</c> and the image start it, from the same tree as the node's assembly.
/// </summary>
internal static class NodeLaunchProfile
{
    /// <param name="hubDll">The node's assembly in <c>src/Hub/bin/&lt;configuration&gt;/&lt;framework&gt;/</c>.</param>
    public static IReadOnlyDictionary<string, string> EnvironmentOf(string hubDll)
    {
        var project = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(hubDll) ?? ".", "..", "..", ".."));
        var file = Path.Combine(project, "Properties", "launchSettings.json");
        if (!File.Exists(file))
        {
            Console.Error.WriteLine($"no launch profile at {file}: the node runs with the runtime's default settings");
            return new Dictionary<string, string>();
        }

        using var document = JsonDocument.Parse(File.ReadAllText(file));
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        // The first profile is the one `dotnet run` uses.
        var profile = document.RootElement.GetProperty("profiles").EnumerateObject().First().Value;
        if (profile.TryGetProperty("environmentVariables", out var variables))
        {
            foreach (var variable in variables.EnumerateObject())
            {
                environment[variable.Name] = variable.Value.GetString() ?? "";
            }
        }

        return environment;
    }
}
