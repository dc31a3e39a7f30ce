using SignalStream.Tools;

return await ToolsCommandLine.InvokeAsync(args, Console.Out, Console.Error);
