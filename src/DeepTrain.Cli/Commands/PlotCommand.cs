using System.CommandLine;
using DeepTrain.Cli.Plotting;

namespace DeepTrain.Cli.Commands;

/// <summary><c>deeptrain plot RUN_DIR</c>: redraws metrics.png from a run's metrics.jsonl.</summary>
internal static class PlotCommand
{
    public static Command Create()
    {
        var dir = new Argument<string>("RUN_DIR") { Description = "A run's --out folder (holding metrics.jsonl), or the metrics.jsonl file itself" };
        var output = new Option<string?>("--output", "-o") { Description = "Where to write the PNG (default: metrics.png beside metrics.jsonl)" };
        var cmd = new Command("plot", "Plot training, validation and test loss and error per epoch from metrics.jsonl into a PNG") { dir, output };
        cmd.SetAction(r => CliErrors.Run(() => Run(r.GetValue(dir)!, r.GetValue(output))));
        return cmd;
    }

    private static int Run(string dir, string? output)
    {
        string metrics = File.Exists(dir) ? dir : Path.Combine(dir, "metrics.jsonl");
        if (!Directory.Exists(dir) && !File.Exists(dir)) throw new DirectoryNotFoundException($"{dir}: no such run folder or metrics file");
        Console.WriteLine(MetricsPlot.WriteBeside(metrics, output));
        return 0;
    }
}
