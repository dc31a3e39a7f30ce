using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SignalStream.Engine.Inference.Internal;
using SignalStream.Engine.Inference.Onnx;
using SignalStream.Hosting;

namespace SignalStream.Engine.Inference;

/// <summary>Registers the model registry and the batchers' options and metrics.</summary>
public static class InferenceRegistration
{
    public static IServiceCollection AddSignalStreamInference(this IServiceCollection services, IConfiguration configuration)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.AddOptions<InferenceOptions>()
            .Bind(configuration.GetSection(InferenceOptions.SectionName))
            .Configure(o => o.ModelsPath = configuration["Models:Path"] is { Length: > 0 } path ? path : o.ModelsPath)
            .ValidateOnStart(InferenceOptionsValidator.Validate);
        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<InferenceOptions>>().Value);
        services.TryAddSingleton<InferenceMetrics>();
        services.TryAddSingleton<ModelLoader>();
        services.TryAddSingleton(sp => new ModelRegistry(
            sp.GetRequiredService<InferenceOptions>(),
            ResolveModelsFolder(sp.GetRequiredService<InferenceOptions>().ModelsPath, sp.GetService<IHostEnvironment>()),
            sp.GetRequiredService<ModelLoader>(),
            sp.GetRequiredService<InferenceMetrics>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<ModelRegistry>>()));
        services.TryAddSingleton<IModelCatalog>(sp => sp.GetRequiredService<ModelRegistry>());

        services.AddHostedService(sp => sp.GetRequiredService<ModelRegistry>());
        return services;
    }

    /// <summary>
    /// A relative <c>Models:Path</c> means the working directory's folder when it exists (a checkout: the repository's
    /// <c>models/</c>), and otherwise the copy built next to the executable (a published or packaged node).
    /// </summary>
    public static void ResolveBundledModels(IConfiguration configuration, string contentRoot)
    {
        var configured = configuration["Models:Path"] ?? "models";
        if (Path.IsPathRooted(configured))
        {
            return;
        }

        foreach (var root in new[] { Directory.GetCurrentDirectory(), contentRoot, AppContext.BaseDirectory })
        {
            var candidate = Path.GetFullPath(Path.Combine(root, configured));
            if (Directory.Exists(candidate) && Directory.EnumerateFiles(candidate, "*.manifest.json").Any())
            {
                configuration["Models:Path"] = candidate;
                return;
            }
        }
    }

    /// <summary>An absolute path as is; a relative one under the content root, else next to the executable.</summary>
    internal static string ResolveModelsFolder(string configured, IHostEnvironment? environment)
    {
        if (Path.IsPathRooted(configured))
        {
            return Path.GetFullPath(configured);
        }

        var underContentRoot = Path.GetFullPath(Path.Combine(environment?.ContentRootPath ?? Directory.GetCurrentDirectory(), configured));
        if (Directory.Exists(underContentRoot))
        {
            return underContentRoot;
        }

        var besideApp = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, configured));
        return Directory.Exists(besideApp) ? besideApp : underContentRoot;
    }

    internal static class InferenceOptionsValidator
    {
        public static List<string> Validate(InferenceOptions options)
        {
            var problems = options.Validate().ToList();
            if (problems.Count == 0 && OnnxProviders.Unavailable(options.SessionSettings.Provider, options.DeviceId) is { } unavailable)
            {
                // The native library and the provider are checked at start too: a wrong package is a setup error to fix
                // before the node serves, not a per-model load failure discovered later.
                problems.Add(unavailable);
            }

            return problems;
        }
    }
}
