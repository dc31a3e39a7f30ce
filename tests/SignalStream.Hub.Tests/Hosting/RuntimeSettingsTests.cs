using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using SignalStream.Hub.Tests.Observability;

namespace SignalStream.Hub.Tests.Hosting;

/// <summary>
/// The garbage collector the node is measured with is the one every way of starting it gets: the project file
/// (workstation GC, background gen2), and the gen0 budget, which the runtime reads from the environment only, alike in
/// the launch profile (<c>dotnet run</c>, the load harness) and the image.
/// </summary>
public sealed partial class RuntimeSettingsTests
{
    private static readonly string s_root = ExternalTool.RepositoryRoot();

    [Fact]
    public void TheNodeRunsWorkstationGcWithBackgroundCollections()
    {
        var project = XDocument.Load(Path.Combine(s_root, "src", "Hub", "SignalStream.Hub.csproj"));
        Assert.Equal("false", Property(project, "ServerGarbageCollection"));
        Assert.Equal("true", Property(project, "ConcurrentGarbageCollection"));
    }

    [Fact]
    public void TheLaunchProfileAndTheImageGiveTheNodeTheSameGen0Budget()
    {
        using var launch = JsonDocument.Parse(File.ReadAllText(Path.Combine(s_root, "src", "Hub", "Properties", "launchSettings.json")));
        var profile = launch.RootElement.GetProperty("profiles").EnumerateObject().First().Value;
        var fromProfile = profile.GetProperty("environmentVariables").GetProperty("DOTNET_GCgen0size").GetString();

        var image = Gen0SizeInDockerfile().Match(File.ReadAllText(Path.Combine(s_root, "Dockerfile")));
        Assert.True(image.Success, "the Dockerfile sets no DOTNET_GCgen0size");
        Assert.Equal("0x400000", fromProfile);
        Assert.Equal(fromProfile, image.Groups[1].Value);
    }

    private static string? Property(XDocument project, string name) =>
        project.Descendants(name).Select(e => e.Value.Trim()).FirstOrDefault();

    [GeneratedRegex(@"DOTNET_GCgen0size=(\S+)")]
    private static partial Regex Gen0SizeInDockerfile();
}
