package io.medfuse.app;

import java.util.concurrent.Callable;

import org.apache.kafka.common.config.ConfigException;

import io.medfuse.app.bench.BenchCommand;
import io.medfuse.model.ModelException;
import io.medfuse.trainer.TrainerException;
import io.medfuse.trainer.data.DatasetException;
import io.medfuse.worker.WorkerStartException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code medfuse} command line: a thin main that parses, builds, starts and registers shutdown. */
@Command(name = "medfuse", mixinStandardHelpOptions = true, versionProvider = Medfuse.Version.class,
        description = {
            "Classifies medical images together with the patient's clinical data on Kafka.",
            "",
            "Start with 'medfuse demo': an embedded Kafka broker, the bundled model, sample requests."
        },
        subcommands = {DemoCommand.class, ServeCommand.class, ProduceCommand.class, WatchCommand.class,
            TrainCommand.class, CompareCommand.class, EvaluateCommand.class, ContractCommand.class,
            SynthCommand.class, SoakCommand.class, BenchCommand.class, ModelCommand.class, CommandLine.HelpCommand.class})
public final class Medfuse implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(System.out);
        return 0;
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns the exit code (tests call this). */
    public static int run(String... args) {
        CommandLine cli = new CommandLine(new Medfuse());
        cli.setExecutionExceptionHandler(Medfuse::handle);
        return cli.execute(args);
    }

    /** Expected failures print one clear line; unexpected ones add the stack trace. */
    private static int handle(Exception e, CommandLine cli, CommandLine.ParseResult parsed) {
        String command = cli.getCommandName();
        if (e instanceof ConfigException || e instanceof WorkerStartException || e instanceof ModelException
                || e instanceof UserInputException || e instanceof DatasetException
                || e instanceof TrainerException) {
            cli.getErr().println("medfuse " + command + ": " + e.getMessage());
            return 2;
        }
        // one line for the user; the stack once, in the log, where the decision is made
        org.slf4j.LoggerFactory.getLogger(Medfuse.class).error("medfuse {}: unexpected error", command, e);
        cli.getErr().println("medfuse " + command + ": unexpected error: " + e);
        return 1;
    }

    /** Version from the jar manifest. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Medfuse.class.getPackage().getImplementationVersion();
            return new String[] {"medfuse " + (v == null ? "(development build)" : v)};
        }
    }
}
