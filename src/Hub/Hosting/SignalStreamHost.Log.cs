namespace SignalStream.Hub.Hosting;

public static partial class SignalStreamHost
{
    private static partial class Log
    {
        [LoggerMessage(5900, LogLevel.Information, "SignalStream node starting with roles {Roles}")]
        public static partial void NodeStarting(ILogger logger, NodeRoles roles);

        [LoggerMessage(5901, LogLevel.Information, "Metrics and health are served on {ManagementUrls} only (Management:Urls)")]
        public static partial void ManagementSeparate(ILogger logger, string managementUrls);
    }
}
