"""Fine-tuning: turning conversations into training datasets (and, later, the jobs that train
on them). It sits above chats and datasets and reads both through their services."""
