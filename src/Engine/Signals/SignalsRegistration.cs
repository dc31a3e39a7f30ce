using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using SignalStream.Engine.Inference;
using SignalStream.Engine.Journal;
using SignalStream.Engine.Signals.Internal;

namespace SignalStream.Engine.Signals;

/// <summary>Registers decision, risk levels, outcome tracking and the journal.</summary>
public static class SignalsRegistration
{
    public static IServiceCollection AddSignalStreamSignals(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<SignalsOptions>()
            .Bind(configuration.GetSection(SignalsOptions.SectionName))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<SignalsOptions>, SignalsOptionsValidator>();
        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);

        // Without an event store every symbol starts at seq 1; the store registers its sequence first and wins.
        services.TryAddSingleton<ISignalSequence, NoStoreSignalSequence>();
        services.TryAddSingleton<EngineOutputs>();

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

    private sealed class SignalsOptionsValidator : IValidateOptions<SignalsOptions>
    {
        public ValidateOptionsResult Validate(string? name, SignalsOptions options)
        {
            var problems = options.Validate().ToList();
            return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
        }
    }
}
