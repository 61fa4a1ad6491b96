"""Pre-order campaigns: opening, pages, pledges (without their money side), updates."""
