using SignalStream.Contracts.Serialization;
using SignalStream.PeerSignalR;
using StackExchange.Redis;

// The ASP.NET Core SignalR peer of the load harness (load-tests/README.md): the server a C# team builds from the docs.
// A hub with a group per symbol, scaled out with the official Redis backplane, and a hosted service that relays each
// signal the engine publishes on Redis to its symbol's group. Nothing else: no resume, no seq repair, SignalR's own
// slow-client behaviour.
//   dotnet SignalStream.PeerSignalR.dll --urls http://127.0.0.1:5092 --Peer:Redis 127.0.0.1:6379 --Peer:Symbols:0 BTCUSDT
var builder = WebApplication.CreateBuilder(args);
var peer = PeerOptions.Read(builder.Configuration);
builder.Services.AddSingleton(peer);
builder.Services.AddSignalR()
    .AddJsonProtocol(o =>
    {
        // The wire types' source-generated metadata, as src/Hub registers it: clients get the same signal JSON.
        o.PayloadSerializerOptions.TypeInfoResolverChain.Insert(0, ContractsJsonContext.Default);
        o.PayloadSerializerOptions.TypeInfoResolverChain.Insert(1, PeerJsonContext.Default);
    })
    .AddStackExchangeRedis(peer.Redis, o => o.Configuration.ChannelPrefix = RedisChannel.Literal("peer-signalr"));
builder.Services.AddSingleton<SignalFeed>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<SignalFeed>());

var app = builder.Build();
app.MapHub<SignalHub>("/hubs/signals");
app.MapGet("/health", (SignalFeed feed) => feed.Listening ? Results.Text("ok") : Results.StatusCode(StatusCodes.Status503ServiceUnavailable));
app.Run();
