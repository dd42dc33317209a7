using System.CommandLine;
using System.Globalization;
using DeepTrain.Onnx;

namespace DeepTrain.Cli.Commands;

/// <summary><c>deeptrain export</c>: a checkpoint as an ONNX model (docs/onnx.md), through <see cref="OnnxExporter.ExportCheckpoint"/>.</summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var ckpt = new Option<string>("--checkpoint", "-c") { Description = "A model.safetensors written by 'deeptrain train'", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "The ONNX file to write", Required = true };
        var opset = new Option<int>("--opset")
        {
            Description = $"ONNX opset to write, {OnnxExportOptions.MinOpset} to {OnnxExportOptions.MaxOpset}",
            DefaultValueFactory = _ => OnnxExportOptions.MinOpset,
        };
        var noFold = new Option<bool>("--no-fold-bn") { Description = "Write every batch norm as a BatchNormalization node instead of folding it into the convolution before it" };
        var cmd = new Command("export", $"Export a checkpoint to ONNX in evaluation form: input '{OnnxExporter.InputName}' (batch, C, H, W) as pixel values in [0, 1], normalised inside the graph; output '{OnnxExporter.OutputName}' (batch, classes)")
        {
            ckpt, output, opset, noFold,
        };
        cmd.SetAction(r => CliErrors.Run(() => Run(r.GetValue(ckpt)!, r.GetValue(output)!, r.GetValue(opset), r.GetValue(noFold))));
        return cmd;
    }

    private static int Run(string checkpoint, string output, int opset, bool noFold)
    {
        var options = new OnnxExportOptions { Opset = opset, FoldBatchNorm = !noFold };
        OnnxExporter.ExportCheckpoint(checkpoint, output, options);   // CliErrors says OnnxExportOptions.Opset as --opset
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"wrote {output} ({new FileInfo(output).Length / 1024.0 / 1024.0:F1} MiB, opset {opset}, batch norm {(noFold ? "as nodes" : "folded")}): input '{OnnxExporter.InputName}', output '{OnnxExporter.OutputName}'"));
        return 0;
    }
}
