using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using SignalStream.Engine.Inference;
using SignalStream.Engine.Journal;
using SignalStream.Engine.Signals.Internal;
using SignalStream.Hosting;

namespace SignalStream.Engine.Signals;

/// <summary>
/// Registers decision, risk levels, outcome tracking and the journal. The stage takes its seq from
/// <see cref="ISignalSequence"/> and hands results to <see cref="EngineOutputs"/>: the composition root registers both
/// (<see cref="EngineServiceCollectionExtensions.AddSignalStreamEngine"/>).
/// </summary>
public static class SignalsRegistration
{
    public static IServiceCollection AddSignalStreamSignals(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<SignalsOptions>()
            .Bind(configuration.GetSection(SignalsOptions.SectionName))
            .ValidateOnStart(static o => o.Validate());
        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);

        services.AddSingleton(sp => new SignalRules(sp.GetRequiredService<IOptions<SignalsOptions>>().Value));
        services.AddSingleton<SignalJournal>();
        services.AddSingleton<IPerformanceReport>(sp => sp.GetRequiredService<SignalJournal>());
        services.AddSingleton<SignalsMetrics>();
        services.AddSingleton<SignalStage>();
        services.AddSingleton<ISignalStage>(sp => sp.GetRequiredService<SignalStage>());
        services.AddSingleton<ISignalStateRestore>(sp => sp.GetRequiredService<SignalStage>());
        services.AddSingleton<IAlertIntake>(sp => sp.GetRequiredService<SignalStage>());
        return services;
    }
}
