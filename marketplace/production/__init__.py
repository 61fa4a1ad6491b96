"""Production runs of settled campaigns, the backers' shipping surveys and their orders."""
