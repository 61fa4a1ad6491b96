"""Design submission, images, voting windows, scoring, ranking, comments and moderation."""
