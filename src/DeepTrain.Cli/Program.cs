using System.CommandLine;
using DeepTrain.Cli.Commands;

namespace DeepTrain.Cli;

/// <summary>The <c>deeptrain</c> command: info, models, plan, train, eval, lr-find, bench, bench-kernels, plot.</summary>
public static class Program
{
    /// <summary>Parses the command line and runs the command; returns the exit code.</summary>
    public static int Main(string[] args)
    {
        // A plain Command named "deeptrain" rather than RootCommand, whose name is the entry assembly's
        // ("DeepTrain.Cli", as the dll cannot be called deeptrain): help and errors then show the command
        // users type. RootCommand's help and version options are added by hand.
        var root = new Command("deeptrain", "DeepTrain: train ResNet-scale convolutional networks from .NET")
        {
            new System.CommandLine.Help.HelpOption(),
            new VersionOption(),
            InfoCommand.Create(),
            ModelsCommand.Create(),
            PlanCommand.Create(),
            TrainCommand.Create(),
            EvalCommand.Create(),
            LrFindCommand.Create(),
            BenchCommand.Create(),
            BenchKernelsCommand.Create(),
            PlotCommand.Create(),
        };
        return root.Parse(args).Invoke();
    }
}
