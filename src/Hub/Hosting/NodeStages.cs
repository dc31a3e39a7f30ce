namespace SignalStream.Hub.Hosting;

/// <summary>
/// Builds the node's start order while the composition root registers: <see cref="Add"/> runs one registration call,
/// and the hosted services it added become that stage's, started after every earlier stage's (<see cref="NodeStartup"/>).
/// </summary>
/// <remarks>
/// Each captured registration moves from the host's list to a keyed one that only <see cref="NodeStartup"/> reads, so
/// the container still creates, shares and disposes the service exactly as registered. <see cref="Register"/> refuses a
/// hosted service registered outside every stage: none can slip into an order nobody wrote down.
/// </remarks>
internal sealed class NodeStages
{
    private readonly IServiceCollection _services;
    private readonly HashSet<ServiceDescriptor> _unstaged;
    private readonly HashSet<Type> _captured = [];
    private readonly List<(string Stage, PartKey Key)> _parts = [];

    /// <summary>Starts collecting; hosted services already registered (the framework's own) are left to the host.</summary>
    public NodeStages(IServiceCollection services)
    {
        _services = services;
        _unstaged = [.. services.Where(IsHostedService)];
    }

    /// <summary>Runs <paramref name="register"/>; the hosted services it adds start, in their order, after earlier stages'.</summary>
    public NodeStages Add(string stage, Action<IServiceCollection> register)
    {
        var before = _services.Where(IsHostedService).ToHashSet();
        register(_services);
        foreach (var descriptor in _services.Where(d => IsHostedService(d) && !before.Contains(d)).ToList())
        {
            _services.Remove(descriptor);

            // One instance per implementation, as AddHostedService's TryAddEnumerable has it: a later stage that
            // registers the same service again (it no longer sees the first in the host's list) adds nothing.
            if (ImplementationType(descriptor) is { IsInterface: false } type && !_captured.Add(type))
            {
                continue;
            }

            var key = new PartKey(_parts.Count);
            _parts.Add((stage, key));
            _services.Add(Keyed(descriptor, key));
        }

        return this;
    }

    /// <summary>Registers the one hosted service that starts the stages in order; throws if a hosted service escaped them.</summary>
    public void Register()
    {
        var escaped = _services.Where(d => IsHostedService(d) && !_unstaged.Contains(d)).Select(d => ImplementationType(d)?.Name ?? "?").ToList();
        if (escaped.Count > 0)
        {
            throw new InvalidOperationException(
                $"Hosted services registered outside the node's stages: {string.Join(", ", escaped)}. Register them in a stage of SignalStreamHost, so their start order is written down.");
        }

        var parts = _parts.ToArray();
        _services.AddHostedService(sp => new NodeStartup(
            parts.Select(p => (p.Stage, sp.GetRequiredKeyedService<IHostedService>(p.Key))),
            sp.GetRequiredService<ILogger<NodeStartup>>()));
    }

    private static bool IsHostedService(ServiceDescriptor descriptor) => descriptor.ServiceType == typeof(IHostedService) && !descriptor.IsKeyedService;

    private static Type? ImplementationType(ServiceDescriptor descriptor) =>
        descriptor.ImplementationType ?? descriptor.ImplementationInstance?.GetType() ?? descriptor.ImplementationFactory?.Method.ReturnType;

    private static ServiceDescriptor Keyed(ServiceDescriptor descriptor, PartKey key)
    {
        if (descriptor.Lifetime != ServiceLifetime.Singleton)
        {
            throw new InvalidOperationException($"Hosted service {ImplementationType(descriptor)?.Name} is registered {descriptor.Lifetime}; hosted services are singletons.");
        }

        if (descriptor.ImplementationInstance is { } instance)
        {
            return ServiceDescriptor.KeyedSingleton(typeof(IHostedService), key, instance);
        }

        if (descriptor.ImplementationFactory is { } factory)
        {
            return ServiceDescriptor.KeyedSingleton(typeof(IHostedService), key, (sp, _) => factory(sp));
        }

        return ServiceDescriptor.KeyedSingleton(typeof(IHostedService), key, descriptor.ImplementationType!);
    }

    /// <summary>The key of one staged service: its place in the start order.</summary>
    private sealed record PartKey(int Index);
}
