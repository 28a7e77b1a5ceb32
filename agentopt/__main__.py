from agentopt.cli import main

main()
