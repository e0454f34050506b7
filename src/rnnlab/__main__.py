from rnnlab.run.cli import main

main()
