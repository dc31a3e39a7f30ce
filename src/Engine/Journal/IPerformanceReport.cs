using SignalStream.Contracts;

namespace SignalStream.Engine.Journal;

/// <summary>Live journal statistics for <c>/api/performance</c> and metrics.</summary>
public interface IPerformanceReport
{
    PerformanceReport GetReport();
}
