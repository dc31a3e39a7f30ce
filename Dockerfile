# syntax=docker/dockerfile:1
# SignalStream server image: one executable, its role chosen at run time with Node__Roles (all, engine, hub).
#   docker build -t signalstream:local .
ARG DOTNET_VERSION=10.0

FROM mcr.microsoft.com/dotnet/sdk:${DOTNET_VERSION} AS build
# ONNX Runtime comes from NuGet (Microsoft.ML.OnnxRuntime); Directory.Build.props builds for this stage's own runtime
# identifier (linux-x64 or linux-arm64), so only that platform's native library is published (docs/inference.md).
WORKDIR /src
COPY Directory.Build.props Directory.Packages.props SignalStream.sln ./
COPY src/ src/
RUN dotnet restore src/Hub/SignalStream.Hub.csproj
COPY . .
RUN dotnet publish src/Hub/SignalStream.Hub.csproj -c Release -o /app --no-restore -p:UseAppHost=false \
 && mkdir -p models \
 && cp -r models /app/models

FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_VERSION} AS runtime
WORKDIR /app
# The aspnet image listens on ASPNETCORE_HTTP_PORTS=8080; our host binds to localhost:5080 unless urls are set.
# DOTNET_GCgen0size: the gen0 budget the node is measured with (src/Hub/SignalStream.Hub.csproj says why; the
# runtime reads it from the environment only).
ENV ASPNETCORE_URLS=http://+:8080 \
    DOTNET_GCgen0size=0x400000 \
    Logging__Format=json \
    Models__Path=/app/models \
    Storage__File__Path=/var/lib/signalstream
RUN mkdir -p /var/lib/signalstream && chown "$APP_UID" /var/lib/signalstream
COPY --from=build /app ./
USER $APP_UID
# 8080: clients; 9180: /metrics and /health when Management__Urls=http://+:9180 (compose.yaml sets it).
EXPOSE 8080 9180
VOLUME ["/var/lib/signalstream"]
ENTRYPOINT ["dotnet", "SignalStream.Hub.dll"]
